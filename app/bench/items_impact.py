"""Items a and b: impact analysis beside a bare SQL aggregate, and at two map sizes."""

from __future__ import annotations

import time

import sqlalchemy as sa

from app.bench.timing import paired_medians


class ImpactItems:
    """The impact measurements of a Bench (item b's two map sizes and item a's pair run in Bench.run)."""

    def load_reference(self) -> float:
        """Fastest time of a fixed, map-independent workload: 20 database round trips and a CPU loop."""

        def work():
            with self.engine.connect() as conn:
                for _ in range(20):
                    conn.exec_driver_sql("SELECT 1").all()
            sum(i * i for i in range(200_000))

        samples = []
        for _ in range(3 * self.sizes["reps"]):
            started = time.perf_counter()
            work()
            samples.append(time.perf_counter() - started)
        return min(samples)  # like the b measurements it scales

    @property
    def b_reps(self) -> int:
        """Runs per map size for item b."""
        return 5 * self.sizes["reps"]

    def impact_fastest(self, incident_id: int) -> float:
        """The fastest of b_reps impact analyses of the incident (after one warm-up)."""
        from app.incidents.impact import compute_impact

        samples = []
        for _ in range(self.b_reps + 1):
            with self.session() as s:
                started = time.perf_counter()
                compute_impact(session=s, incident_id=incident_id)
                samples.append(time.perf_counter() - started)
        return min(samples[1:])

    def impact_pair(self, incident_id: int, reps: int | None = None) -> tuple[float, float]:
        from app.incidents.impact import compute_impact

        def product():
            with self.session() as s:
                compute_impact(session=s, incident_id=incident_id)

        def bare():
            with self.engine.connect() as conn:
                conn.execute(sa.text(
                    "SELECT pr.controller_id, pr.role, sum(pr.est_subjects), sum(pr.est_records) "
                    "FROM processing_record pr JOIN incident_system s ON s.system_id = pr.system_id "
                    "WHERE s.incident_id = :i GROUP BY pr.controller_id, pr.role"), {"i": incident_id}).all()
                conn.execute(sa.text(
                    "SELECT pr.controller_id, c.category_key, sum(pr.est_subjects) "
                    "FROM processing_record pr JOIN incident_system s ON s.system_id = pr.system_id "
                    "JOIN processing_data_category c ON c.record_id = pr.id "
                    "WHERE s.incident_id = :i GROUP BY pr.controller_id, c.category_key"), {"i": incident_id}).all()

        product()  # warm caches the same way for both
        bare()
        return paired_medians(product, bare, reps or self.sizes["reps"])
