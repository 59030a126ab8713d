"""SageMaker lineage API emulator for moto (placeholder until issue 3 lands).

Contract: ``install()`` adds the SageMaker lineage actions to moto's SageMaker backend
in this process. Until the emulator exists it installs nothing.
"""


def install() -> None:
    return None
