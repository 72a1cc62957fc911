"""Packaging for gulpio; the version lives in src/gulpio/_version.py only."""
import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version() -> str:
    namespace: dict = {}
    with open(os.path.join(HERE, "src", "gulpio", "_version.py")) as fp:
        exec(fp.read(), namespace)
    return namespace["__version__"]


def read_long_description() -> str:
    with open(os.path.join(HERE, "README.rst"), encoding="utf-8") as fp:
        return fp.read()


COMMANDS = [
    "gulp_20bn_json_videos",
    "gulp_20bn_csv_webm",
    "gulp_20bn_csv_jpeg",
    "gulp_activitynet",
    "gulp_kinetics",
    "gulp_image_folder",
    "gulp_image_list",
    "gulp_sanity_check",
    "gulp_register_adapter",
]

setup(
    name="gulpio",
    version=read_version(),
    description="Binary storage format for deep learning on videos",
    long_description=read_long_description(),
    long_description_content_type="text/x-rst",
    license="MIT",
    package_dir={"": "src"},
    packages=find_packages("src"),
    python_requires=">=3.9",
    install_requires=[
        "numpy>=1.21",
        "opencv-python>=4.5",
        "simplejson>=3.17",
        "tqdm>=4.60",
        "joblib>=1.4",
        "docopt-ng>=0.9",
    ],
    extras_require={
        # Test tools.  torch is not listed here: pip would pick a multi-GB
        # build on most machines; install it explicitly (see README.rst).
        "test": ["pytest>=7", "psutil>=5.9", "nbformat>=5", "nbclient>=0.7",
                 "ipykernel>=6"],
        # PyTorch interop (gulpio's datasets under torch's DataLoader).
        "torch": ["torch>=2.0"],
        # Ingestion on a dask.distributed cluster through joblib's backend.
        "dask": ["dask[distributed]>=2023.1"],
        # Benchmark plots in docs/.
        "bench": ["matplotlib>=3.5"],
    },
    entry_points={
        "console_scripts": [
            f"{name} = gulpio.cli.{name}:main" for name in COMMANDS
        ],
    },
    classifiers=[
        "License :: OSI Approved :: MIT License",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
