# NUS-WIDE (81 concepts), paper recipe.
_base_ = "paper.py"
dataset = "nuswide"
