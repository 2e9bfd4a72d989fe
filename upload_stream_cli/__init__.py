"""The `upload-stream` command line: the service, the local dev stack, and ops tools.

Kept free of imports: `upload_stream_cli.entry` must monkey-patch with gevent
before anything imports socket or ssl.
"""
