"""`python -m monitor` runs the command line, like the `tracking-monitor` script."""
from monitor.cli import entry

entry()
