r"""Generator and discriminator networks of the conditional GAN.

Two families serve every method:

* ``"mlp"``: fully connected networks (:class:`MLPGenerator`, :class:`MLPDiscriminator`);
* ``"conv"``: the DC-GAN-like networks of Lohezic et al. (arXiv:2212.03763, section 3.1)
  (:class:`ConvGenerator`, :class:`ConvDiscriminator`).

Conventions shared by all networks:

* Conditions ``c`` have shape (N, C) with C >= 0; C = 0 (an (N, 0) tensor) is the
  "vanilla" strategy without conditional features.
* A generator maps ``(c, z)`` to ``x`` in (-1, 1) (tanh output), shape (N, X).
* A discriminator maps ``(c, x)`` to **logits** :math:`\phi`, shape (N,). The
  probability of eq. (1) of the paper is :math:`d = \sigma(\phi)`; the sigmoid is
  applied inside the losses (:mod:`hepgan.losses`) for numerical stability.
* No batch normalisation: the networks have no running statistics, behave the same
  in ``train()`` and ``eval()`` apart from dropout, accept batch size 1, and can be
  vectorised with :mod:`torch.func` for ensembles and scans.
* No global random state: weights get torch's default initialisation at
  construction; :func:`init_parameters` re-initialises them from an explicit
  :class:`torch.Generator`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from hepgan.config import check, choice

__all__ = [
    "MLP",
    "MLPGenerator",
    "MLPDiscriminator",
    "ConvGenerator",
    "ConvDiscriminator",
    "build_generator",
    "build_discriminator",
    "init_parameters",
    "activation_bytes_per_row",
    "rows_per_batch",
    "ARCHS",
    "ACTIVATIONS",
]

ARCHS = ("mlp", "conv")

#: Negative slope of every LeakyReLU (DC-GAN, Radford et al. 2015).
LEAKY_SLOPE = 0.2

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "leaky_relu": lambda: nn.LeakyReLU(LEAKY_SLOPE),
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}


def _check_dims(**dims: tuple[int, int]) -> None:
    for key, (value, low) in dims.items():
        check(isinstance(value, int) and value >= low, key, f"an integer >= {low}", value)


def _concat(a: Tensor, b: Tensor, n_a: int, n_b: int, names: str) -> Tensor:
    # A clear message beats torch's "mat1 and mat2 shapes cannot be multiplied".
    # shape[0], not len(): len() fixes a symbolic batch size to a number when the network is exported
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != n_a or b.shape[1] != n_b or a.shape[0] != b.shape[0]:
        name_a, name_b = names.split(",")
        raise ValueError(
            f"expected {name_a} of shape (N, {n_a}) and {name_b} of shape (N, {n_b}), "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return torch.cat((a, b), dim=1)


class MLP(nn.Sequential):
    r"""Fully connected network without output activation.

    Layers: ``Linear -> activation [-> Dropout]`` for each hidden width, then a final
    ``Linear`` to ``n_out``.

    Arguments:
        n_in: The number of input features.
        n_out: The number of output features.
        hidden: The widths of the hidden layers (may be empty).
        activation: One of :data:`ACTIVATIONS` (``"leaky_relu"`` has slope 0.2).
        dropout: The dropout probability after each hidden activation.

    Example:
        >>> f = MLP(3, 2, hidden=(8, 8))
        >>> f(torch.randn(5, 3)).shape
        torch.Size([5, 2])
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        hidden: Sequence[int] = (512, 512, 512),
        activation: str = "leaky_relu",
        dropout: float = 0.0,
    ):
        _check_dims(n_in=(n_in, 1), n_out=(n_out, 1))
        for i, h in enumerate(hidden):
            _check_dims(**{f"hidden[{i}]": (h, 1)})
        choice(activation, ACTIVATIONS, "activation")
        check(0.0 <= dropout < 1.0, "dropout", "a number in [0, 1)", dropout)

        layers: list[nn.Module] = []
        widths = [n_in, *hidden]
        for a, b in zip(widths[:-1], widths[1:]):
            layers.append(nn.Linear(a, b))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(widths[-1], n_out))
        super().__init__(*layers)

    def forward(self, x: Tensor) -> Tensor:
        r"""
        Arguments:
            x: The input, shape (N, n_in).

        Returns:
            The output, shape (N, n_out).
        """
        return super().forward(x)


class MLPGenerator(nn.Module):
    r"""Fully connected conditional generator :math:`g(c, z) \in (-1, 1)^X`.

    ``concat(c, z) -> MLP(hidden, LeakyReLU(0.2)) -> Linear(X) -> tanh``.

    Arguments:
        n_c: The number of conditions C (0 for no conditions).
        n_z: The latent dimension Z.
        n_x: The number of generated features X.
        hidden: The widths of the hidden layers.
    """

    def __init__(self, n_c: int, n_z: int, n_x: int, hidden: Sequence[int] = (512, 512, 512)):
        super().__init__()
        _check_dims(n_c=(n_c, 0), n_z=(n_z, 1), n_x=(n_x, 1))
        self.n_c, self.n_z, self.n_x = n_c, n_z, n_x
        self.net = MLP(n_c + n_z, n_x, hidden)

    def forward(self, c: Tensor, z: Tensor) -> Tensor:
        r"""
        Arguments:
            c: The conditions, shape (N, C).
            z: The latent noise, shape (N, Z).

        Returns:
            The generated features, shape (N, X), in (-1, 1).
        """
        return torch.tanh(self.net(_concat(c, z, self.n_c, self.n_z, "c,z")))


class MLPDiscriminator(nn.Module):
    r"""Fully connected conditional discriminator returning logits.

    ``concat(c, x) -> MLP(hidden, LeakyReLU(0.2), dropout) -> Linear(1)``; the
    probability of being real is :math:`d(c, x) = \sigma(\text{logit})`.

    Arguments:
        n_c: The number of conditions C (0 for no conditions).
        n_x: The number of features X.
        hidden: The widths of the hidden layers.
        dropout: The dropout probability after each hidden activation.
    """

    def __init__(
        self,
        n_c: int,
        n_x: int,
        hidden: Sequence[int] = (256, 256, 256),
        dropout: float = 0.2,
    ):
        super().__init__()
        _check_dims(n_c=(n_c, 0), n_x=(n_x, 1))
        self.n_c, self.n_x = n_c, n_x
        self.net = MLP(n_c + n_x, 1, hidden, dropout=dropout)

    def forward(self, c: Tensor, x: Tensor) -> Tensor:
        r"""
        Arguments:
            c: The conditions, shape (N, C).
            x: The features, shape (N, X).

        Returns:
            The logits, shape (N,).
        """
        return self.net(_concat(c, x, self.n_c, self.n_x, "c,x")).squeeze(-1)


class ConvGenerator(nn.Module):
    r"""The paper's conditional generator (arXiv:2212.03763, section 3.1).

    The paper gives the layer types, filters and kernel sizes; reshapes, strides,
    padding and inner activations are our choice, following DC-GAN: each stride-2
    transposed convolution doubles the image, every hidden layer is followed by
    LeakyReLU(0.2), and there is no batch normalisation (see the module docstring).

    Layers and output shapes::

        concat(c, z)                                        (N, C + Z)
        Linear(C + Z, 1024), LeakyReLU                      (N, 1024)
        reshape                                             (N, 64, 4, 4)
        ConvTranspose2d(64, 32, 4, stride=2, padding=1), LeakyReLU
                                                            (N, 32, 8, 8)
        ConvTranspose2d(32, 16, 2, stride=2), LeakyReLU     (N, 16, 16, 16)
        ConvTranspose2d(16, 8, 2, stride=2), LeakyReLU      (N, 8, 32, 32)
        Conv2d(8, 4, 3, stride=1, padding=1), LeakyReLU     (N, 4, 32, 32)
        flatten                                             (N, 4096)
        Linear(4096, X), tanh                               (N, X)

    With C = 6, Z = 32, X = 4 the network has 92 000 parameters.

    Arguments:
        n_c: The number of conditions C (0 for no conditions).
        n_z: The latent dimension Z.
        n_x: The number of generated features X.
    """

    def __init__(self, n_c: int, n_z: int, n_x: int):
        super().__init__()
        _check_dims(n_c=(n_c, 0), n_z=(n_z, 1), n_x=(n_x, 1))
        self.n_c, self.n_z, self.n_x = n_c, n_z, n_x
        self.net = nn.Sequential(
            nn.Linear(n_c + n_z, 1024),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Unflatten(1, (64, 4, 4)),
            nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.ConvTranspose2d(32, 16, kernel_size=2, stride=2),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.ConvTranspose2d(16, 8, kernel_size=2, stride=2),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv2d(8, 4, kernel_size=3, padding=1),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Flatten(),
            nn.Linear(4 * 32 * 32, n_x),
            nn.Tanh(),
        )

    def forward(self, c: Tensor, z: Tensor) -> Tensor:
        r"""
        Arguments:
            c: The conditions, shape (N, C).
            z: The latent noise, shape (N, Z).

        Returns:
            The generated features, shape (N, X), in (-1, 1).
        """
        return self.net(_concat(c, z, self.n_c, self.n_z, "c,z"))


class ConvDiscriminator(nn.Module):
    r"""The paper's conditional discriminator (arXiv:2212.03763, section 3.1), returning logits.

    The paper gives the layer types, filters, kernel sizes, the LeakyReLU and the 20 %
    dropout; reshapes, strides and padding are our choice: the dense layer is viewed
    as a 16 x 16 image that stride-2 convolutions halve three times (DC-GAN style), so
    that the last feature map is small and the final dense layer cheap. The sigmoid of
    the paper's last layer is left to the losses: :math:`d = \sigma(\text{logit})`.

    Layers and output shapes::

        concat(c, x)                                        (N, C + X)
        Linear(C + X, 256), LeakyReLU                       (N, 256)
        reshape                                             (N, 1, 16, 16)
        Conv2d(1, 32, 2, stride=2), LeakyReLU               (N, 32, 8, 8)
        Conv2d(32, 64, 2, stride=2), LeakyReLU              (N, 64, 4, 4)
        Conv2d(64, 64, 4, stride=2, padding=1), LeakyReLU   (N, 64, 2, 2)
        flatten, Dropout(dropout)                           (N, 256)
        Linear(256, 1), squeeze                             (N,)

    All LeakyReLUs have slope 0.2. With C = 6, X = 4 the network has 77 089 parameters.

    Arguments:
        n_c: The number of conditions C (0 for no conditions).
        n_x: The number of features X.
        dropout: The dropout probability before the last layer (20 % in the paper).
    """

    def __init__(self, n_c: int, n_x: int, dropout: float = 0.2):
        super().__init__()
        _check_dims(n_c=(n_c, 0), n_x=(n_x, 1))
        check(0.0 <= dropout < 1.0, "dropout", "a number in [0, 1)", dropout)
        self.n_c, self.n_x = n_c, n_x
        self.net = nn.Sequential(
            nn.Linear(n_c + n_x, 256),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Unflatten(1, (1, 16, 16)),
            nn.Conv2d(1, 32, kernel_size=2, stride=2),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv2d(32, 64, kernel_size=2, stride=2),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv2d(64, 64, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(64 * 2 * 2, 1),
        )

    def forward(self, c: Tensor, x: Tensor) -> Tensor:
        r"""
        Arguments:
            c: The conditions, shape (N, C).
            x: The features, shape (N, X).

        Returns:
            The logits, shape (N,).
        """
        return self.net(_concat(c, x, self.n_c, self.n_x, "c,x")).squeeze(-1)


def build_generator(
    arch: str,
    n_c: int,
    n_z: int,
    n_x: int,
    hidden: Sequence[int] | None = None,
) -> nn.Module:
    r"""Builds a generator :math:`g(c, z) \to x` by architecture name.

    Arguments:
        arch: ``"mlp"`` (:class:`MLPGenerator`) or ``"conv"`` (:class:`ConvGenerator`).
        n_c: The number of conditions C (0 for no conditions).
        n_z: The latent dimension Z.
        n_x: The number of generated features X.
        hidden: The hidden widths of ``"mlp"`` (None: its default). Ignored by
            ``"conv"``, whose layout is fixed by the paper.

    Raises:
        ConfigError: If ``arch`` is unknown or a dimension is invalid.
    """
    choice(arch, ARCHS, "arch")
    if arch == "conv":
        return ConvGenerator(n_c, n_z, n_x)
    if hidden is None:
        return MLPGenerator(n_c, n_z, n_x)
    return MLPGenerator(n_c, n_z, n_x, hidden=tuple(hidden))


def build_discriminator(
    arch: str,
    n_c: int,
    n_x: int,
    hidden: Sequence[int] | None = None,
    dropout: float = 0.2,
) -> nn.Module:
    r"""Builds a discriminator :math:`(c, x) \to` logits by architecture name.

    Arguments:
        arch: ``"mlp"`` (:class:`MLPDiscriminator`) or ``"conv"`` (:class:`ConvDiscriminator`).
        n_c: The number of conditions C (0 for no conditions).
        n_x: The number of features X.
        hidden: The hidden widths of ``"mlp"`` (None: its default). Ignored by ``"conv"``.
        dropout: The dropout probability (both architectures).

    Raises:
        ConfigError: If ``arch`` is unknown or a dimension is invalid.
    """
    choice(arch, ARCHS, "arch")
    if arch == "conv":
        return ConvDiscriminator(n_c, n_x, dropout=dropout)
    if hidden is None:
        return MLPDiscriminator(n_c, n_x, dropout=dropout)
    return MLPDiscriminator(n_c, n_x, hidden=tuple(hidden), dropout=dropout)


@torch.no_grad()
def init_parameters(module: nn.Module, generator: torch.Generator) -> None:
    r"""Re-initialises every linear and convolution layer of a module reproducibly.

    Uses the same distributions as torch's defaults, drawn from ``generator``:
    weights kaiming-uniform with :math:`a = \sqrt{5}`, i.e.
    :math:`U(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})`, and biases
    :math:`U(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})`. Layers are visited in
    :meth:`~torch.nn.Module.modules` order, so the same module structure and the same
    generator state give identical weights. Other parameters are left alone.

    Arguments:
        module: The module to re-initialise in place.
        generator: The random number generator; it may live on another device than
            the parameters (values are drawn on its device and copied).
    """
    for m in module.modules():
        if not isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
            continue
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        w, b = _on_device(m.weight, generator), _on_device(m.bias, generator)
        nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)
        m.weight.copy_(w)
        if b is not None:
            nn.init.uniform_(b, -bound, bound, generator=generator)
            m.bias.copy_(b)


def _on_device(p: Tensor | None, generator: torch.Generator) -> Tensor | None:
    # draws happen on the generator's device; copy_ moves them to the parameter's
    if p is None or p.device == generator.device:
        return p
    return torch.empty(p.shape, dtype=p.dtype, device=generator.device)


@torch.no_grad()
def activation_bytes_per_row(module: nn.Module, *inputs: Tensor) -> int:
    """Bytes of all layer outputs of ``module`` for one row, measured on a small probe batch.

    The sum over every leaf module's output is an upper bound of what a forward pass without
    gradients holds at its peak (only a few of them are alive at once).

    Args:
        module: the network.
        *inputs: a probe batch of its inputs, each (n, ...) with the same n >= 1.

    Example:
        >>> activation_bytes_per_row(MLP(4, 2, hidden=(8,)), torch.zeros(3, 4))  # 8 + 8 + 2 floats
        72
    """
    total = 0

    def hook(m, args, out):
        nonlocal total
        if isinstance(out, Tensor):
            total += out.numel() * out.element_size()

    leaves = [m for m in module.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        module(*inputs)
    finally:
        for h in handles:
            h.remove()
    return max(1, math.ceil(total / len(inputs[0])))


def rows_per_batch(module: nn.Module, probe: Sequence[Tensor], device: torch.device, low: int = 1024, high: int = 1 << 20) -> int:
    """Rows per forward pass that fit a memory budget: a quarter of the free GPU memory on CUDA, 1 GiB on a CPU.

    Args:
        module: the network (on ``device``).
        probe: a small batch of its inputs (see :func:`activation_bytes_per_row`).
        device: where it runs.
        low, high: the range of the answer.
    """
    per_row = activation_bytes_per_row(module, *probe)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = free // 4
    else:
        budget = 1 << 30
    return int(min(high, max(low, budget // per_row)))
