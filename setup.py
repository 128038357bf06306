"""Ships the example grids (``grids/``) and data (``examples/``) inside the wheel.

Everything else is in ``pyproject.toml``. The examples stay at the top of the repository, where
the README's quick start uses them from a clone; here they are mapped to the packages
``cotation._examples.grids``, ``.data``, ``.flux`` and ``.offres``, so that ``cotation examples
DIR`` copies them out of an installed wheel with ``importlib.resources``.
"""
from setuptools import find_packages, setup

EXAMPLES = {
    "cotation._examples.grids": "grids",
    "cotation._examples.grids.broken": "grids/broken",
    "cotation._examples.data": "examples/data",
    "cotation._examples.flux": "examples/flux",
    "cotation._examples.offres": "examples/offres",
}

setup(
    packages=find_packages(include=["cotation*", "sne_adapters*"]) + list(EXAMPLES),
    package_dir=EXAMPLES,
    package_data={name: ["*.yaml", "*.csv", "*.md", "*.json"] for name in EXAMPLES},
)
