"""MLPs: the builder the actor-critic methods use (Linear layers with tanh
or ReLU between, orthogonal init), and their forward and backward passes
without autograd.

For PPO's 64x64 nets at batch 256 autograd's bookkeeping (graph nodes,
saved tensors, the engine's queue, scalar wrappers) costs more than the
math: PPO's CartPole update (20 gradient steps) took 21.7 ms of CPU with
autograd and 14.4 ms with these few kernels per layer.
tests/test_mlp_backprop.py checks them against autograd.

    with torch.no_grad():
        activations = forward(mlp, x)
    backward(mlp, activations, d_loss_d_output)     # sets every p.grad
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(sizes: list[int], activation: str, out_gain: float) -> nn.Sequential:
    """Linear layers with `activation` between them; orthogonal init (gain
    sqrt 2 for hidden layers, `out_gain` for the last), zero biases, as in
    the PPO implementations that reproduce the paper's results."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        linear = nn.Linear(a, b)
        nn.init.orthogonal_(linear.weight, out_gain if last else math.sqrt(2))
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if not last:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def forward(mlp: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """mlp(x), keeping what backward needs: [x, each hidden layer's output
    (after its activation), the last layer's output]."""
    activations = [x]
    for layer in mlp:
        if isinstance(layer, nn.Linear):
            x = torch.addmm(layer.bias, x, layer.weight.t())
            activations.append(x)
        else:
            x = layer(x)
            activations[-1] = x  # the activation's output is what the next layer and the derivative need
    return activations


@torch.no_grad()
def backward(mlp: nn.Sequential, activations: list[torch.Tensor], grad_output: torch.Tensor) -> None:
    """Sets (overwrites, so no zeroing first) every parameter's .grad to
    d loss / d parameter, given grad_output = d loss / d output [B, out]
    and forward's activations."""
    linears = [layer for layer in mlp if isinstance(layer, nn.Linear)]
    activation = next((type(layer) for layer in mlp if not isinstance(layer, nn.Linear)), None)
    grad = grad_output
    for i in range(len(linears) - 1, -1, -1):
        layer, inputs = linears[i], activations[i]
        store_grad(layer.weight, torch.mm, grad.t(), inputs)
        torch.sum(grad, 0, out=grad_of(layer.bias))
        if i == 0:
            break  # nothing to learn below the first layer
        grad = grad.mm(layer.weight)
        # Through the activation, from its output y: grad * (1 - y^2) for tanh, grad * (y > 0) for ReLU.
        if activation is nn.Tanh:
            grad = torch.ops.aten.tanh_backward(grad, inputs)
        else:
            grad = torch.ops.aten.threshold_backward(grad, inputs, 0)


def grad_of(p: nn.Parameter) -> torch.Tensor:
    """p.grad, allocated if it is None."""
    if p.grad is None:
        p.grad = torch.empty_like(p)
    return p.grad


def store_grad(p: nn.Parameter, product: Callable[..., torch.Tensor], a: torch.Tensor, b: torch.Tensor) -> None:
    """p.grad = product(a, b) (torch.mm or torch.bmm), written in place; under
    bfloat16 autocast computed in bfloat16 and then cast (out= would have
    to match the product's dtype)."""
    grad = grad_of(p)
    if a.dtype == b.dtype == grad.dtype:
        product(a, b, out=grad)
    else:
        grad.copy_(product(a, b))
