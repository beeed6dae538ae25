import re

from setuptools import find_packages, setup

with open("guestagent/__init__.py") as f:
    version = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)

setup(
    name="guestagent",
    version=version,
    description="Network quality-of-experience agent for the Cisco IR1101 Guest Shell",
    long_description=open("README.md").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.6",
    packages=find_packages(include=["guestagent", "guestagent.*"]),
    package_data={"guestagent": ["*.json", "*.yaml", "device/ir1101/*.txt"]},
    install_requires=[
        # Ceilings are what still installs on Guest Shell's Python 3.6 (constraints/guestshell.txt).
        "PyYAML>=5.4",
        "prometheus-client>=0.12",
        "requests>=2.25",
        "dnspython>=2.1",
    ],
    extras_require={
        "test": ["pytest", "hypothesis", "jsonschema", "vermin", "pingparsing"],
    },
    # The command as a plain script rather than a console_scripts entry point, whose generated
    # wrapper imports `re` before the agent (start-up time: `guestagent --version`).
    scripts=["scripts/guestagent"],
    classifiers=[
        "Programming Language :: Python :: 3.6",
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX :: Linux",
    ],
)
