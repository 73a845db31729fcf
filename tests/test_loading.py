"""singledir.nets.loading: a network of one's own, and what to change in the parameter file when it
cannot be built or its weights do not fit."""
from __future__ import annotations

import pytest
import torch


# ---------------------------------------------------------------------------------------------
# load_network: what to change in the parameter file
# ---------------------------------------------------------------------------------------------
def test_load_network_says_which_num_classes_the_weights_need(tmp_path):
    import torchvision

    from singledir.nets.loading import load_network

    torch.save(torchvision.models.mobilenet_v3_small(num_classes=7).state_dict(), tmp_path / "w.pt")
    with pytest.raises(ValueError, match=r"The weights have 7 outputs where the network has 10: give num_classes=7 "
                                         r"\(`model_kwargs: \{num_classes: 7\}` in the parameter file\)"):
        load_network("mobilenet_v3_small", tmp_path / "w.pt", num_classes=10)
    net = load_network("mobilenet_v3_small", tmp_path / "w.pt", num_classes=7)  # the fix
    assert net.classifier[3].out_features == 7


def test_load_network_names_the_arguments_a_constructor_refused():
    from singledir.nets.loading import load_network

    with pytest.raises(TypeError, match=r"cannot build 'resnet18' with arguments \{'colour': 1\}: .*'colour'.*"
                                        r"`model_kwargs:` in the parameter file"):
        load_network("resnet18", colour=1)
