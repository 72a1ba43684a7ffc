"""Structural tests of the generator and discriminator networks."""

from __future__ import annotations

import pytest
import torch

from hepgan.exceptions import ConfigError
from hepgan.nn import (
    MLP,
    ConvDiscriminator,
    ConvGenerator,
    MLPDiscriminator,
    MLPGenerator,
    build_discriminator,
    build_generator,
    init_parameters,
)

ARCHS = ["mlp", "conv"]
SMALL = (16, 16)  # hidden widths for fast mlp tests


def _nets(arch: str, n_c: int, n_z: int = 5, n_x: int = 4) -> tuple[torch.nn.Module, ...]:
    hidden = SMALL if arch == "mlp" else None
    return build_generator(arch, n_c, n_z, n_x, hidden), build_discriminator(arch, n_c, n_x, hidden)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("n_c", [0, 3])
@pytest.mark.parametrize("n", [1, 7])
def test_shapes_and_range(arch: str, n_c: int, n: int, gen: torch.Generator) -> None:
    g, d = _nets(arch, n_c)
    g.eval(), d.eval()
    c = torch.randn(n, n_c, generator=gen)
    z = 10 * torch.randn(n, 5, generator=gen)  # large inputs push towards saturation
    with torch.no_grad():
        x = g(c, z)
        logit = d(c, x)
    assert x.shape == (n, 4)
    assert logit.shape == (n,)
    assert torch.all(x.abs() < 1)
    assert torch.isfinite(logit).all()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("n_c", [0, 3])
def test_gradients_reach_every_parameter(arch: str, n_c: int, gen: torch.Generator) -> None:
    g, d = _nets(arch, n_c)
    c = torch.randn(32, n_c, generator=gen)
    z = torch.randn(32, 5, generator=gen)
    x_real = 2 * torch.rand(32, 4, generator=gen) - 1
    # one loss through both networks: gradients reach g via x_fake and d via both inputs
    loss = d(c, g(c, z)).square().mean() + d(c, x_real).mean()
    loss.backward()
    for net in (g, d):
        for name, p in net.named_parameters():
            assert p.grad is not None, name
            assert torch.any(p.grad != 0), name


def test_train_mode_batch_of_one() -> None:
    # no batch norm: a single event trains too
    g, d = ConvGenerator(2, 3, 4), ConvDiscriminator(2, 4)
    d(torch.zeros(1, 2), g(torch.zeros(1, 2), torch.zeros(1, 3))).sum().backward()


@pytest.mark.parametrize("arch", ARCHS)
def test_init_parameters_reproducible(arch: str) -> None:
    nets_a, nets_b = _nets(arch, 3), _nets(arch, 3)
    for a, b in zip(nets_a, nets_b):
        init_parameters(a, torch.Generator().manual_seed(7))
        init_parameters(b, torch.Generator().manual_seed(7))
        for (name, p), q in zip(a.named_parameters(), b.parameters()):
            assert torch.equal(p, q), name
        init_parameters(b, torch.Generator().manual_seed(8))
        assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_init_parameters_matches_default_bounds() -> None:
    net = MLP(50, 3, hidden=(40,))
    init_parameters(net, torch.Generator().manual_seed(0))
    for layer in (net[0], net[2]):
        bound = 1 / layer.in_features**0.5
        assert layer.weight.abs().max() <= bound
        assert layer.weight.abs().max() > 0.9 * bound
        assert layer.bias.abs().max() <= bound


def test_init_parameters_leaves_global_rng_alone() -> None:
    net = ConvDiscriminator(2, 4)  # construction itself uses torch's default init
    state = torch.get_rng_state()
    init_parameters(net, torch.Generator().manual_seed(1))
    assert torch.equal(state, torch.get_rng_state())


def test_mlp() -> None:
    f = MLP(3, 2, hidden=(8, 8), activation="tanh", dropout=0.1)
    assert f(torch.randn(5, 3)).shape == (5, 2)
    assert MLP(3, 2, hidden=())(torch.randn(5, 3)).shape == (5, 2)
    with pytest.raises(ConfigError, match="activation"):
        MLP(3, 2, activation="sigmoidish")


def test_default_classes() -> None:
    assert isinstance(build_generator("mlp", 1, 2, 3), MLPGenerator)
    assert isinstance(build_discriminator("mlp", 1, 3), MLPDiscriminator)
    assert isinstance(build_generator("conv", 1, 2, 3, hidden=(4,)), ConvGenerator)
    assert isinstance(build_discriminator("conv", 1, 3, dropout=0.0), ConvDiscriminator)


def test_unknown_arch() -> None:
    with pytest.raises(ConfigError, match="'transformer'"):
        build_generator("transformer", 1, 2, 3)
    with pytest.raises(ConfigError, match="'conv2'"):
        build_discriminator("conv2", 1, 3)


def test_bad_dimensions_and_inputs() -> None:
    with pytest.raises(ConfigError, match="n_z"):
        ConvGenerator(1, 0, 3)
    with pytest.raises(ConfigError, match="dropout"):
        ConvDiscriminator(1, 3, dropout=1.5)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        MLPGenerator(2, 3, 4, hidden=(8,))(torch.zeros(5, 3), torch.zeros(5, 3))


def test_paper_parameter_counts() -> None:
    # the counts quoted in the class docstrings (C = 6, Z = 32, X = 4)
    assert sum(p.numel() for p in ConvGenerator(6, 32, 4).parameters()) == 92_000
    assert sum(p.numel() for p in ConvDiscriminator(6, 4).parameters()) == 77_089
