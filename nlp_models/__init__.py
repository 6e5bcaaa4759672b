"""The classifier: what each incoming mail asks for, in which language, and about whom.

`classify(subject, body)` is the one entry point the pipeline uses; the trained model under
`model/` is loaded once per process.
"""

from nlp_models.classifier import Classification, Classifier, classify, load_classifier
from nlp_models.entities import Entity
from nlp_models.reminders import EarlierRequest
from nlp_models.representative import OnBehalfOf

__all__ = [
    "Classification", "Classifier", "EarlierRequest", "Entity", "OnBehalfOf", "classify",
    "load_classifier",
]
