"""Static files in production: hashed names (cached for ever by browsers), compressed, served by
WhiteNoise."""

from django.contrib.staticfiles.storage import HashedFilesMixin
from whitenoise.storage import CompressedManifestStaticFilesStorage


def _without_source_maps(patterns):
    return tuple(
        (extension, tuple(p for p in rules if "sourceMappingURL" not in (p[0] if isinstance(p, tuple) else p)))
        for extension, rules in patterns
    )


class StaticStorage(CompressedManifestStaticFilesStorage):
    # Vendored libraries point to source maps that are not shipped: those comments are left as
    # they are instead of failing the build (a browser just finds no map).
    patterns = _without_source_maps(HashedFilesMixin.patterns)
    # A template naming a file missing from the manifest gets its plain URL, not an error page.
    manifest_strict = False
