"""The classifier: what each incoming mail asks for, in which language, and about whom.

`classify(subject, body)` is the one entry point the pipeline uses; the trained model under
`model/` is loaded once per process.
"""

from nlp_models.classifier import Classification, Classifier, classify, load_classifier
from nlp_models.entities import Entity

__all__ = ["Classification", "Classifier", "Entity", "classify", "load_classifier"]
