"""The local development stack: a real Kafka broker and an S3 endpoint for `upload-stream dev`
and the test harness.

- `kafka.KafkaBroker`: Apache Kafka (KRaft, single node) as a Java subprocess, jars resolved
  with Maven into a cache dir.
- `s3.MotoS3Server`: moto's S3 served by gevent.pywsgi in its own process.
- `versitygw.VersityGwServer`: versitygw, a strict S3 (checks signatures and checksums),
  built with `go install` into the cache dir; chosen with `UPLOAD_STREAM_S3_SERVER=versitygw`.
- `stack.Stack`: picks, per part, an endpoint from the environment, a testcontainers broker
  when Docker answers, or the local launchers above; creates the default topics and buckets.

Kept free of imports: `python -m upload_stream_cli.devstack.s3_server` imports this package
before it can monkey-patch, so nothing here may pull in botocore, socket or ssl.
"""
