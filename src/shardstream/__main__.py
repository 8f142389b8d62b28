"""``python -m shardstream``: the same as the ``shardstream`` command."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="shardstream")
