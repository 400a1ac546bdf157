"""``handler: uses_pkg:UsesPkg``. Imports a package that only ``pythonPackages`` provides: without
the install this module cannot even load."""

import hearthtestpkg


class UsesPkg:
    def predict(self, name: str) -> str:
        return f"{hearthtestpkg.GREETING}, {name} (hearthtestpkg {hearthtestpkg.__version__})"
