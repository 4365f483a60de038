{#
  The cohort flow is a tree of nested steps: no step has more patients than its parent step,
  and the patients excluded from a step add up (parent n = n + excluded_n). Checked through
  the parent link, independently of how the model computes excluded_n.
#}
with flow as (
    select * from {{ ref('cohort_flow') }}
)

select child.centre_code, child.step_order, child.n, child.excluded_n, parent.n as parent_n
from flow as child
inner join flow as parent
    on child.centre_code = parent.centre_code
    and child.parent_step_order = parent.step_order
where child.n > parent.n
    or child.excluded_n is null
    or parent.n <> child.n + child.excluded_n
