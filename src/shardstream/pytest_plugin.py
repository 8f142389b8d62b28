"""pytest fixtures for testing Kinesis code with shardstream (registered as a ``pytest11`` entry point).

Nothing heavy is imported until a fixture is used, so the plugin costs nothing in
projects that do not use it.
"""
