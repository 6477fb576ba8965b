"""A reference PPO training loop for Atari that does what CleanRL's
``cleanrl/ppo_atari_envpool.py`` does, written as one plain function: EnvPool
(8 envs, episodic life, clipped rewards), the Nature CNN with orthogonal
init, 128-step rollouts stored on the device, GAE(0.95), 4 epochs of 4
minibatches, clip 0.1 (also for the value), entropy 0.01, value 0.5 x
(0.5 MSE), Adam(eps 1e-5) at 2.5e-4 annealed, gradient norm 0.5.

It is the yardstick for flockrl's PPO in benchmarks/compare_atari.py: the
same algorithm and hyperparameters, written the way a researcher writes
one file. ``pip install envpool``.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.distributions.categorical import Categorical


def layer_init(layer: nn.Module, std: float = np.sqrt(2), bias_const: float = 0.0) -> nn.Module:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    def __init__(self, num_actions: int):
        super().__init__()
        self.network = nn.Sequential(
            layer_init(nn.Conv2d(4, 32, 8, stride=4)), nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(),
            nn.Flatten(), layer_init(nn.Linear(64 * 7 * 7, 512)), nn.ReLU(),
        )
        self.actor = layer_init(nn.Linear(512, num_actions), std=0.01)
        self.critic = layer_init(nn.Linear(512, 1), std=1)

    def get_value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(self.network(x / 255.0))

    def get_action_and_value(self, x: torch.Tensor, action: torch.Tensor | None = None):
        hidden = self.network(x / 255.0)
        probs = Categorical(logits=self.actor(hidden))
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(hidden)


def train(game: str = "Breakout-v5", total_steps: int = 10_000_000, seed: int = 1, num_envs: int = 8,
          num_steps: int = 128, lr: float = 2.5e-4, device: str = "cpu") -> dict:
    """Trains for total_steps agent steps; returns {"frames", "seconds", "scores": [(step, game score)]}."""
    import envpool

    gamma, gae_lambda, minibatches, epochs, clip, ent_coef, vf_coef, max_grad_norm = (
        0.99, 0.95, 4, 4, 0.1, 0.01, 0.5, 0.5)
    batch_size = num_envs * num_steps
    minibatch_size = batch_size // minibatches
    iterations = total_steps // batch_size
    torch.manual_seed(seed)
    np.random.seed(seed)
    envs = envpool.make_gymnasium(game, num_envs=num_envs, episodic_life=True, reward_clip=True, seed=seed)
    agent = Agent(envs.action_space.n).to(device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=lr, eps=1e-5)

    obs = torch.zeros((num_steps, num_envs, *envs.observation_space.shape), device=device)
    actions = torch.zeros((num_steps, num_envs), device=device)
    logprobs, rewards, dones, values = (torch.zeros((num_steps, num_envs), device=device) for _ in range(4))
    score = np.zeros(num_envs)
    scores = []

    global_step, start = 0, time.perf_counter()
    next_obs = torch.Tensor(envs.reset()[0]).to(device)  # seeded at make
    next_done = torch.zeros(num_envs, device=device)
    for iteration in range(1, iterations + 1):
        optimizer.param_groups[0]["lr"] = (1.0 - (iteration - 1.0) / iterations) * lr
        for step in range(num_steps):
            global_step += num_envs
            obs[step], dones[step] = next_obs, next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step], logprobs[step] = action, logprob
            next_obs_np, reward, terminated, truncated, info = envs.step(action.cpu().numpy())
            done = terminated | truncated
            rewards[step] = torch.tensor(reward, device=device).view(-1)
            next_obs, next_done = torch.Tensor(next_obs_np).to(device), torch.Tensor(done).to(device)
            score += info["reward"]  # EnvPool's unclipped reward
            game_over = done & (info["lives"] == 0)
            for i in np.flatnonzero(game_over):
                scores.append((global_step, float(score[i])))
            score[game_over] = 0

        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = 0
            for t in reversed(range(num_steps)):
                nextnonterminal = 1.0 - (next_done if t == num_steps - 1 else dones[t + 1])
                nextvalues = next_value if t == num_steps - 1 else values[t + 1]
                delta = rewards[t] + gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = delta + gamma * gae_lambda * nextnonterminal * lastgaelam
            returns = advantages + values

        b_obs = obs.reshape((-1, *envs.observation_space.shape))
        b_logprobs, b_actions = logprobs.reshape(-1), actions.reshape(-1)
        b_advantages, b_returns, b_values = advantages.reshape(-1), returns.reshape(-1), values.reshape(-1)
        b_inds = np.arange(batch_size)
        for _ in range(epochs):
            np.random.shuffle(b_inds)
            for begin in range(0, batch_size, minibatch_size):
                mb = b_inds[begin:begin + minibatch_size]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb], b_actions.long()[mb])
                ratio = (newlogprob - b_logprobs[mb]).exp()
                mb_adv = b_advantages[mb]
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss = torch.max(-mb_adv * ratio, -mb_adv * torch.clamp(ratio, 1 - clip, 1 + clip)).mean()
                newvalue = newvalue.view(-1)
                v_clipped = b_values[mb] + torch.clamp(newvalue - b_values[mb], -clip, clip)
                v_loss = 0.5 * torch.max((newvalue - b_returns[mb]) ** 2, (v_clipped - b_returns[mb]) ** 2).mean()
                loss = pg_loss - ent_coef * entropy.mean() + v_loss * vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
                optimizer.step()
    seconds = time.perf_counter() - start
    envs.close()
    return {"frames": 4 * global_step, "seconds": seconds, "scores": scores}


if __name__ == "__main__":
    result = train(total_steps=8192)
    print(f"{result['frames']} frames in {result['seconds']:.1f} s: {result['frames'] / result['seconds']:.0f} frames/s")
