"""Tasks: each module provides `run(config, workdir)` and plugs a `Task` into the shared loop."""
