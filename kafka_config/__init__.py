"""Kafka client configuration shared by every side: the connection and its security
(`connection`), the topic names (`topics`) and the fetch wait (`fetch`)."""
