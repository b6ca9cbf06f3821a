"""Packaging is declared in pyproject.toml; this file holds only the license, for the tools that
still run ``setup.py`` themselves in whatever environment they find.

scrapyd-deploy builds the egg it uploads with ``python setup.py bdist_egg`` using the
setuptools of the environment it runs in: 65 in a fresh Python 3.11 virtualenv, and below 81
wherever scrapyd is installed (scrapyd 1.6 needs ``pkg_resources``). setuptools before 77 refuses
an SPDX ``license`` string in pyproject.toml, and 77 and later deprecate the table form, so the
license is given here in the form the running setuptools reads.
"""

import setuptools
from setuptools import setup

if int(setuptools.__version__.split(".")[0]) >= 77:
    setup(license_expression="MIT")
else:
    setup(license="MIT")
