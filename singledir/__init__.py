"""singledir: the package behind the executable reproduction of Morcos et al. (ICLR 2018),
*On the importance of single directions for generalization*.

Modules follow the data flow: data -> models -> train -> record -> perturb -> selectivity /
information -> sweep -> plots; book runs the chapters.
"""
__version__ = "0.1.0"
