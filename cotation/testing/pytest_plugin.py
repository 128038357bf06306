"""pytest plugin: every ``*.cases.yaml`` file becomes a test module, one test per case.

Installed with the package (entry point ``pytest11``), so an EPCI keeping its grid and cases
in a folder runs them with plain ``pytest that-folder``.
"""
from __future__ import annotations

import pytest
import yaml


def pytest_collect_file(parent, file_path):
    if file_path.name.endswith(".cases.yaml"):
        return CasesFile.from_parent(parent, path=file_path)
    return None


class CasesFile(pytest.File):
    def collect(self):
        doc = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        for i, case in enumerate(doc.get("cases") or []):
            name = str(case.get("name") or f"case {i + 1}")
            yield CaseItem.from_parent(self, name=f"{i + 1}: {name}", index=i)


class CaseFailure(Exception):
    pass


class CaseItem(pytest.Item):
    def __init__(self, *, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def runtest(self):
        from cotation.testing.cases import run_cases
        (result,) = run_cases(self.path, only=self.index)
        if not result.ok:
            raise CaseFailure("\n".join(result.failures))

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, CaseFailure):
            return f"{self.path.name}, case {self.name}:\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"case {self.name}"
