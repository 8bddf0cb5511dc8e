"""The example plugins in ``plugins/``, loaded from the source tree."""
import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "plugins"


def load_example(project: str, module: str):
    """Import an example plugin's module from its file (not sys.path, which an in-tree
    ``pip install`` could turn into a second, half-installed distribution)."""
    spec = importlib.util.spec_from_file_location(module, EXAMPLES / project / f"{module}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
