"""The scale table's cells of chapter 8 (singledir.pages.followup_setups), word for word."""
from singledir.pages import followup_setups
from singledir.pages.chapter import Setup

SETUP = Setup(dataset="digits", conv_dataset="cifar10")
CONV = {"kind": "convnet", "channels": [4, 4, 8], "strides": [1, 2, 1]}
MLP = {"kind": "mlp", "widths": [16, 16]}
CONV_NAME = "conv net 3 layers, channels [4, 4, 8] x1, BN"


def test_units_describe_chapter_5s_networks_on_their_test_images():
    assert followup_setups.describe_units(SETUP, CONV, MLP, conv_n_train=200, n_unit_data=None,
                                          bn_train={"epochs": 3}, mlp_train={"epochs": 4}, bn_seeds=[0, 1],
                                          mlp_seeds=[0, 1, 2]) == {
        "data": "cifar10 (200); all test images", "network": f"{CONV_NAME} with BN; MLP 16-16",
        "epochs": "3; 4", "seeds": "2; 3"}


def test_alpha_sweep_counts_seeds_per_alpha():
    assert followup_setups.describe_alpha_sweep(SETUP, MLP, CONV, {"train": {"epochs": 3}, "n_train": None, "seeds": [0, 1]},
                                                {"train": {"epochs": 2}, "n_train": 200, "seeds": [0]}) == {
        "data": "digits (all); cifar10 (200)", "network": f"MLP 16-16; {CONV_NAME} with BN",
        "epochs": "3; 2", "seeds": "2; 1 per alpha"}


def test_choices_name_the_validation_split():
    assert followup_setups.describe_choices(SETUP, MLP, CONV, MLP, epochs=(40, 60, 30),
                                            seeds=([0, 1], [0], [0, 1, 2])) == {
        "data": "digits: validation = training images not trained on",
        "network": f"MLP 16-16; {CONV_NAME}; MLP 16-16", "epochs": "40; 60; 30", "seeds": "2; 1; 3"}


def test_training_memorization_and_pairs():
    assert followup_setups.describe_training(SETUP, CONV, n_train=200, train={"epochs": 60}, seeds=[0, 1]) == {
        "data": "cifar10 (200)", "network": CONV_NAME, "epochs": "60", "seeds": "2"}
    assert followup_setups.describe_memorization(SETUP, MLP, CONV, mlp_n_train=400, conv_n_train=200,
                                                 mlp_train={"epochs": 3}, conv_train={"epochs": 2},
                                                 mlp_seeds=[0, 1], conv_seeds=[0, 1]) == {
        "data": "digits (400); cifar10 (200); their training labels", "network": f"MLP 16-16; {CONV_NAME}",
        "epochs": "3; 2", "seeds": "2; 2 per corrupted fraction"}
    assert followup_setups.describe_pairs(SETUP, CONV, MLP, conv_n_train=200, grid_n_train=None, conv_epochs=2,
                                          grid_epochs=30, n_networks=8, grid_seeds=[0, 1]) == {
        "data": "cifar10 (200); digits (all); held-out images, no labels", "network": f"{CONV_NAME}; MLP 16-16",
        "epochs": "2; 30", "seeds": "8 (E3); 2 per setting (E5)"}


def test_publication_table_puts_each_publications_setup_beside_this_builds():
    from singledir.decide.claims import CLAIMS

    t = followup_setups.publication_table({"F6": CONV_NAME, "F1": "MLP 16-16"})
    assert list(t.index) == ["F6", "F1"]
    assert list(t.columns) == ["publication", "data", "network", "seeds", "here"]
    assert t.loc["F6", "here"] == CONV_NAME
    assert t.loc["F1", "publication"] == CLAIMS["F1"].section
    assert t.loc["F1", "network"] == CLAIMS["F1"].paper_setup["network"]
