"""Advantage estimators for actor-critic methods, on [T, N] arrays (T steps
of N envs, time-major, as rollouts are collected)."""

from __future__ import annotations

import numpy as np
import torch


def gae(
    rewards: np.ndarray, values: np.ndarray, dones: np.ndarray, last_values: np.ndarray, gamma: float, lam: float
) -> tuple[np.ndarray, np.ndarray]:
    """Generalized advantage estimation (Schulman et al. 2016).

    rewards, values, dones: [T, N]; dones[t] says the episode ended with
    step t (terminated or truncated: a truncated step's reward already holds
    gamma * V(final obs), so nothing is bootstrapped across an episode end).
    last_values: [N], V of the observation after step T-1.
    Returns (advantages, returns = advantages + values), both float32 [T, N]:
        delta_t = r_t + gamma * V_{t+1} * (1 - done_t) - V_t
        A_t     = delta_t + gamma * lam * (1 - done_t) * A_{t+1}
    """
    rewards, values = np.asarray(rewards, np.float64), np.asarray(values, np.float64)
    if rewards.ndim != 2 or values.shape != rewards.shape or np.shape(dones) != rewards.shape:
        raise ValueError(f"gae: expected rewards, values and dones of one [T, N] shape, got {rewards.shape}, "
                         f"{values.shape} and {np.shape(dones)}")
    if np.shape(last_values) != rewards.shape[1:]:
        raise ValueError(f"gae: expected last_values of shape {rewards.shape[1:]}, got {np.shape(last_values)}")
    not_done = 1.0 - np.asarray(dones, np.float64)
    next_values = np.concatenate([values[1:], np.asarray(last_values, np.float64)[None]])
    deltas = rewards + gamma * next_values * not_done - values
    advantages = np.empty_like(deltas)
    running = np.zeros(rewards.shape[1])
    for t in range(len(rewards) - 1, -1, -1):
        running = deltas[t] + gamma * lam * not_done[t] * running
        advantages[t] = running
    return advantages.astype(np.float32), (advantages + values).astype(np.float32)


def vtrace(behaviour_log_prob: torch.Tensor, target_log_prob: torch.Tensor, rewards: torch.Tensor,
           values: torch.Tensor, dones: torch.Tensor, last_values: torch.Tensor, gamma: float,
           rho_bar: float = 1.0, c_bar: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """V-trace targets and policy-gradient advantages (Espeholt et al. 2018, eq. 1).

    All [T, N] (last_values [N]: V of the observation after step T-1),
    time-major, without gradient. With rho_t = min(rho_bar, pi/mu) and
    c_t = min(c_bar, pi/mu):
        delta_t = rho_t (r_t + gamma V(x_{t+1}) (1 - done_t) - V(x_t))
        v_t     = V(x_t) + delta_t + gamma (1 - done_t) c_t (v_{t+1} - V(x_{t+1}))
        A_t     = rho_t (r_t + gamma v_{t+1} (1 - done_t) - V(x_t))
    with v_T = V(x_T). Returns (v, A). On-policy (pi = mu) with rho_bar,
    c_bar >= 1 this is the n-step bootstrapped return.
    """
    ratio = torch.exp(target_log_prob - behaviour_log_prob)
    rho, c = ratio.clamp(max=rho_bar), ratio.clamp(max=c_bar)
    not_done = 1.0 - dones.to(values.dtype)
    next_values = torch.cat([values[1:], last_values[None]])
    deltas = rho * (rewards + gamma * not_done * next_values - values)
    corrections = torch.empty_like(values)  # v_t - V(x_t)
    running = torch.zeros_like(last_values)
    for t in range(len(values) - 1, -1, -1):
        running = deltas[t] + gamma * not_done[t] * c[t] * running
        corrections[t] = running
    vs = values + corrections
    next_vs = torch.cat([vs[1:], last_values[None]])
    return vs, rho * (rewards + gamma * not_done * next_vs - values)
