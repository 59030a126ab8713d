"""crossline for Airflow: extractors that give the AWS operators their ML lineage.

Register them with the OpenLineage provider (``[openlineage] extractors``), e.g.::

    AIRFLOW__OPENLINEAGE__EXTRACTORS="$(python -c 'import crossline.emitters.airflow as a; print(a.EXTRACTORS)')"

or copy the value of ``EXTRACTORS`` into airflow.cfg. Nothing else changes in a DAG.
"""

from __future__ import annotations

EXTRACTOR_CLASSES = (
    "GlueJobExtractor",
    "SageMakerTrainingExtractor",
    "SageMakerProcessingExtractor",
    "SageMakerRegisterModelVersionExtractor",
    "SageMakerModelExtractor",
    "SageMakerEndpointConfigExtractor",
    "SageMakerEndpointExtractor",
)

EXTRACTORS = ";".join(f"crossline.emitters.airflow.extractors.{name}" for name in EXTRACTOR_CLASSES)
"""The value of the provider's ``extractors`` setting that registers all of them."""
