"""Ranking experts for a question.

Profile similarity alone lets broad "hub" profiles win too often, and summing raw case
similarities favours whoever solved the most cases (cosines all sit near 0.9). So each solved
case earns its expert credit by how far its similarity stands above the background:
exp(sharpness * z). That credit share is blended with the z-scored profile similarity, a bonus
for the asking site's region and industry, and a penalty for open-ticket load. Inactive and
fully loaded experts never appear.

An expert of the site's own enterprise gets a further bonus when their skills fit the question:
their profile stands at least ``fit_profile_z`` standard deviations above all experts'. The
union helps within the enterprise first, but an in-house expert whose skills do not fit gets
nothing for being near. The bonus outweighs the load penalty of any expert still free, so one
open ticket does not send the next worker across the city.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.corpus import CaseDoc, ExpertDoc
from retrieval.policy import RetrievalSettings


@dataclass(frozen=True)
class SiteContext:
    region: str | None = None
    industry: str | None = None
    org: str | None = None  # the enterprise the site belongs to


@dataclass(frozen=True)
class Availability:
    active: bool = True
    open_tickets: int = 0
    max_open_tickets: int = 5

    @property
    def available(self) -> bool:
        return self.active and self.open_tickets < self.max_open_tickets


FREE = Availability()  # an expert the availability does not name


@dataclass(frozen=True)
class ExpertHit:
    expert: ExpertDoc
    score: float


def _z(values: np.ndarray) -> np.ndarray:
    if len(values) < 2:
        return np.zeros_like(values)
    std = values.std()
    z: np.ndarray = (values - values.mean()) / (std if std > 1e-6 else 1.0)
    return z


def rank_experts(
    experts: list[ExpertDoc],
    profile_similarity: np.ndarray | None,
    pool_cases: list[CaseDoc],
    pool_similarity: np.ndarray,
    site: SiteContext | None,
    availability: dict[str, Availability],
    params: RetrievalSettings,
    limit: int,
) -> list[ExpertHit]:
    """Best ``limit`` available experts. ``profile_similarity`` may be None (no index loaded):
    then region, industry and load decide alone."""
    position = {e.id: i for i, e in enumerate(experts)}
    credit = np.zeros(len(experts))
    if len(pool_cases):
        weights = np.exp(params.case_credit_sharpness * np.clip(_z(pool_similarity), -5, 5))
        solvers = np.fromiter(
            (-1 if case.expert_id is None else position.get(case.expert_id, -1) for case in pool_cases),
            dtype=np.intp,
            count=len(pool_cases),
        )
        known = solvers >= 0
        np.add.at(credit, solvers[known], weights[known])  # in pool order, as a loop would add
        if credit.sum() > 0:
            credit /= credit.sum()
    profile = np.zeros(len(experts)) if profile_similarity is None else _z(profile_similarity)
    scores = (credit + params.profile_weight * 0.1 * profile).tolist()
    region = site.region if site else None
    industry = site.industry if site else None
    org = site.org if site else None
    fits = (profile >= params.fit_profile_z).tolist()  # the profile stands out for this question
    ranked = []
    for expert, score, fit in zip(experts, scores, fits, strict=True):
        state = availability.get(expert.id, FREE)
        if not state.available:
            continue
        if org and expert.org == org and fit:
            score += params.enterprise_bonus
        if region and expert.region == region:
            score += params.region_bonus
        if industry and industry in expert.industries:
            score += params.industry_bonus
        score -= params.load_penalty * state.open_tickets / max(state.max_open_tickets, 1)
        ranked.append((-score, expert.id, expert))
    ranked.sort(key=lambda r: r[:2])
    return [ExpertHit(expert, -negative) for negative, _, expert in ranked[:limit]]
