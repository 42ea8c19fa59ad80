"""``imcc config show``: the resolved configuration."""

from .cli import add_config_args, load_config


def register(sub):
    from .cli import _Parser
    c = sub.add_parser("config", help="configuration commands")
    csub = c.add_subparsers(dest="config_cmd", metavar="ACTION", parser_class=_Parser)
    csub.required = True
    show = csub.add_parser("show", help="print the resolved configuration as commented TOML")
    add_config_args(show)
    show.set_defaults(run=run_show)


def run_show(args) -> int:
    print(load_config(args).describe(), end="")
    return 0
