"""Who and what is under review: from flags first, else from the CI system's environment."""

from __future__ import annotations

from collections.abc import Mapping

from slo.evidence import Subject

_COMMIT_VARS = (
    "GITHUB_SHA",
    "CI_COMMIT_SHA",
    "BUILDKITE_COMMIT",
    "CIRCLE_SHA1",
    "GIT_COMMIT",
    "BITBUCKET_COMMIT",
    "DRONE_COMMIT_SHA",
)
_RELEASE_VARS = ("GATEPACK_RELEASE", "CI_COMMIT_TAG", "GITHUB_REF_NAME", "BUILDKITE_TAG", "CIRCLE_TAG")


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if env.get(name):
            return env[name]
    return None


def ci_facts(env: Mapping[str, str]) -> dict[str, str]:
    """The CI run that produced the evidence, as far as the environment tells (no secrets read)."""
    if env.get("GITHUB_ACTIONS") == "true":
        facts = {
            "provider": "github-actions",
            "run_id": env.get("GITHUB_RUN_ID", ""),
            "repository": env.get("GITHUB_REPOSITORY", ""),
            "workflow": env.get("GITHUB_WORKFLOW", ""),
        }
        if env.get("GITHUB_SERVER_URL") and env.get("GITHUB_REPOSITORY") and env.get("GITHUB_RUN_ID"):
            facts["run_url"] = (
                f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
            )
        return {k: v for k, v in facts.items() if v}
    if env.get("GITLAB_CI") == "true":
        facts = {
            "provider": "gitlab-ci",
            "run_id": env.get("CI_PIPELINE_ID", ""),
            "run_url": env.get("CI_PIPELINE_URL", ""),
            "repository": env.get("CI_PROJECT_PATH", ""),
        }
        return {k: v for k, v in facts.items() if v}
    if env.get("BUILDKITE") == "true":
        return {k: v for k, v in {"provider": "buildkite", "run_url": env.get("BUILDKITE_BUILD_URL", "")}.items() if v}
    if env.get("JENKINS_URL"):
        return {k: v for k, v in {"provider": "jenkins", "run_url": env.get("BUILD_URL", "")}.items() if v}
    if env.get("CI") == "true":
        return {"provider": "unknown"}
    return {}


def build_subject(
    env: Mapping[str, str],
    environment: str | None = None,
    service: str | None = None,
    release: str | None = None,
    commit: str | None = None,
) -> Subject:
    return Subject(
        environment=environment or env.get("GATEPACK_ENVIRONMENT"),
        service=service or env.get("GATEPACK_SERVICE"),
        release=release or _first(env, _RELEASE_VARS),
        commit=commit or _first(env, _COMMIT_VARS),
        ci=ci_facts(env),
    )
