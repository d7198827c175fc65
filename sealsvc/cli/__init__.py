"""``sealctl``: the security officers' command line (typer + rich, ``sealctl <noun> <verb>``)."""
