"""One module per subcommand. Each defines `register(subparsers)`, which adds its parser
and sets `handler` (a callable taking the parsed namespace and returning an exit status).
`upload_stream_cli.main` discovers the modules, so adding a command touches one file.
"""
