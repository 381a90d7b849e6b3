"""The built-in re-index step: the tenant directory every later step trains from."""

from __future__ import annotations

from persona_api.kernel.steps import StepContext, StepRegistry, StepResult, write_json
from persona_api.store.tenants import tenant_directory


class TenantDirectoryStep:
    """Reads the run's tenant list (each with its user count) and writes it to
    ``tenants/tenants.json``; the steps after it train exactly these tenants."""

    name = "tenants"
    FILE = "tenants.json"

    async def run(self, ctx: StepContext) -> StepResult:
        tenants = await tenant_directory(ctx.engine)
        bar = ctx.progress(len(tenants), "tenant")
        directory = [{"id": t.id, "name": t.name, "users": t.users} for t in tenants]
        bar.update(len(directory))
        write_json(ctx.step_dir(self.name) / self.FILE, directory)
        return StepResult(
            input_rows={"tenants": len(directory), "users": sum(t.users for t in tenants)},
            metrics={"tenants": len(directory)},
            tenants=tenants,
        )


def default_registry() -> StepRegistry:
    """The built-in step alone; ``persona_api.capabilities.steps()`` adds every capability's."""
    return StepRegistry([TenantDirectoryStep()])
