"""The consumer service: Kafka loop, dispatch, the upload engine, checkpoints, results, DLQ."""
