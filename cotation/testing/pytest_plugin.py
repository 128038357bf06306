"""pytest plugin: every ``*.cases.yaml`` file becomes a test module, one test per case.

Installed with the package (entry point ``pytest11``), so an EPCI keeping its grid and cases
in a folder runs them with plain ``pytest that-folder``. A file written wrong (unknown key, case
without expectation…) is a collection error of one line, as ``cotation test`` reports it.
"""
from __future__ import annotations

import pytest


def pytest_collect_file(parent, file_path):
    if file_path.name.endswith(".cases.yaml"):
        return CasesFile.from_parent(parent, path=file_path)
    return None


class CasesFile(pytest.File):
    def collect(self):
        from cotation.testing.cases import CasesError, load_cases
        try:
            doc = load_cases(self.path)
        except CasesError as exc:
            raise self.CollectError(str(exc)) from None
        for i, case in enumerate(doc["cases"]):
            name = str(case.get("name") or f"case {i + 1}")
            yield CaseItem.from_parent(self, name=f"{i + 1}: {name}", index=i)


class CaseFailure(Exception):
    pass


class CaseItem(pytest.Item):
    def __init__(self, *, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def runtest(self):
        from cotation.testing.cases import CasesError, run_cases
        try:
            (result,) = run_cases(self.path, only=self.index)
        except CasesError as exc:
            raise CaseFailure(str(exc)) from None
        if not result.ok:
            raise CaseFailure("\n".join(result.failures))

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, CaseFailure):
            return f"{self.path.name}, case {self.name}:\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"case {self.name}"
