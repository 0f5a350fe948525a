"""The Deployment — the one object every method produces and every consumer reads — and its file format."""

from spikeforge.deploy.deployment import ARRAY_FIELDS, FORMAT_VERSION, Deployment, DeploymentError
from spikeforge.deploy.io import DeploymentFileError, DeploymentSemanticsWarning, load, save
from spikeforge.deploy.neuron import NeuronParams, set_neurons

__all__ = ["ARRAY_FIELDS", "FORMAT_VERSION", "Deployment", "DeploymentError", "DeploymentFileError",
           "DeploymentSemanticsWarning", "NeuronParams", "load", "save", "set_neurons"]
