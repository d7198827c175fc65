"""Operations on a service's archive world that several archive tests repeat."""

from __future__ import annotations

from helpers.time_fixtures import ACTOR, World
from pki.certificates import Profile, build_name
from sealsvc.ca import HIERARCHIES


def renew_service_certificates(world: World, hierarchy: str) -> None:
    """What operators do before TSA and OCSP certificates run out: new keys, new certs."""
    for profile in (Profile.TSA, Profile.OCSP):
        info = world.context.keystore.generate(
            HIERARCHIES[hierarchy]["leaf"], label=f"{hierarchy} {profile.value} renewed"
        )
        with world.context.database.session() as session:
            world.context.ca.issue(
                session,
                hierarchy=hierarchy,
                profile=profile,
                subject=build_name(common_name=f"renewed {profile.value}"),
                key_id=info.key_id,
                actor=ACTOR,
            )
