"""Kafka client configuration shared by every side: the connection and its security."""
