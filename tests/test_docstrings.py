"""Every public callable of the package has a numpydoc docstring that documents what it takes and returns.

Checked with numpydoc's own validator: ``GL08`` (no docstring), ``PR01`` (a parameter is not
documented), ``PR02`` (a documented parameter does not exist) and ``RT01`` (a function that returns
something has no Returns section). A class may document its constructor's parameters as
Parameters or, for a dataclass or a named tuple, as Attributes.
"""

import importlib
import inspect
import pkgutil

import pytest
from numpydoc.docscrape import ClassDoc
from numpydoc.validate import validate

import agc

CHECKS = ("GL08", "PR01", "PR02", "RT01")
#: Modules that define no public API (the forkserver's warm-up imports).
SKIP = {"agc.runtime.preload"}


def public_callables():
    seen = {}
    for info in pkgutil.walk_packages(agc.__path__, "agc."):
        if info.name in SKIP:
            continue
        module = importlib.import_module(info.name)
        names = getattr(module, "__all__", None)
        if names is None:
            names = [name for name, value in vars(module).items() if not name.startswith("_")
                     and getattr(value, "__module__", None) == info.name]
        for name in names:
            value = getattr(module, name)
            if inspect.isfunction(value) or inspect.isclass(value):
                seen.setdefault(f"{value.__module__}.{value.__qualname__}", value)
    return seen


CALLABLES = public_callables()


def problems(qualname, value):
    errors = [(code, message) for code, message in validate(qualname)["errors"] if code in CHECKS]
    if inspect.isclass(value) and any(code == "PR01" for code, _ in errors):
        documented = {name.strip("*") for item in ("Parameters", "Attributes") for entry in ClassDoc(value)[item]
                      for name in entry.name.split(",")}
        documented = {name.strip() for name in documented}
        try:
            parameters = [p for p in inspect.signature(value).parameters if p not in ("self", "args", "kwargs")]
        except (TypeError, ValueError):
            parameters = []
        missing = [p for p in parameters if p not in documented]
        errors = [(code, message) for code, message in errors if code != "PR01"]
        errors += [("PR01", f"parameter {p} documented neither as Parameters nor as Attributes") for p in missing]
    return errors


def test_the_public_api_is_found():
    assert len(CALLABLES) > 150
    assert "agc.engine.error_curve" in CALLABLES and "agc.training.loop.train" in CALLABLES


@pytest.mark.parametrize("qualname", sorted(CALLABLES))
def test_numpydoc_sections(qualname):
    errors = problems(qualname, CALLABLES[qualname])
    assert not errors, "\n".join(f"{code}: {message}" for code, message in errors)
