{# patient_outcomes has exactly the patients with an index infusion. #}
select
    coalesce(index_infusions.patient_key, outcomes.patient_key) as patient_key,
    index_infusions.patient_key is null as only_in_mart,
    outcomes.patient_key is null as only_in_index_infusions
from {{ ref('int_index_infusions') }} as index_infusions
full outer join {{ ref('patient_outcomes') }} as outcomes
    on index_infusions.patient_key = outcomes.patient_key
where index_infusions.patient_key is null or outcomes.patient_key is null
