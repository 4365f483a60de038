{#
  Day 0 of every clock: the index infusion (infusion_number = 1) of each patient.
  A patient with several rows numbered 1 keeps the earliest (and is a quality finding).
#}
with

infusions as (
    select * from {{ ref('int_infusions_accepted') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by patient_key order by infusion_date, _source_file, _row_number
        ) as index_rank
    from infusions
    where infusion_number = 1
        and patient_key is not null
        and infusion_date is not null
),

final as (
    select
        patient_key,
        centre_code,
        infusion_date,
        cell_dose_per_kg,
        product_name,
        costimulatory_domain,
        lymphodepletion
    from ranked
    where index_rank = 1
)

select * from final
