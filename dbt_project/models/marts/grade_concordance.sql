{#
  Agreement between the grades derived from the daily observations and the centres' reported
  maximum grades, by toxicity and reported grading system: patients with both, agreement
  proportion and Cohen's simple (unweighted) kappa over grades 0-5.
#}
with

toxicity as (
    select * from {{ ref('int_toxicity_summarised') }}
),

pairs as (
    select
        'crs' as toxicity,
        coalesce(reported_grading_system, 'not_stated') as reported_grading_system,
        crs_derived_grade as derived_grade,
        reported_crs_grade as reported_grade
    from toxicity
    where crs_derived_grade is not null and reported_crs_grade is not null

    union all

    select
        'icans',
        coalesce(reported_grading_system, 'not_stated'),
        icans_derived_grade,
        reported_icans_grade
    from toxicity
    where icans_derived_grade is not null and reported_icans_grade is not null
),

totals as (
    select
        toxicity,
        reported_grading_system,
        count(*) as n_patients_with_both,
        count(*) filter (where derived_grade = reported_grade) as n_agreeing,
        count(*) filter (where derived_grade > reported_grade) as n_derived_higher,
        count(*) filter (where derived_grade < reported_grade) as n_reported_higher
    from pairs
    group by toxicity, reported_grading_system
),

derived_margins as (
    select toxicity, reported_grading_system, derived_grade as grade, count(*) as n
    from pairs
    group by all
),

reported_margins as (
    select toxicity, reported_grading_system, reported_grade as grade, count(*) as n
    from pairs
    group by all
),

chance_agreement as (
    select
        derived_margins.toxicity,
        derived_margins.reported_grading_system,
        sum(derived_margins.n * reported_margins.n) as margin_products
    from derived_margins
    inner join reported_margins
        on derived_margins.toxicity = reported_margins.toxicity
        and derived_margins.reported_grading_system = reported_margins.reported_grading_system
        and derived_margins.grade = reported_margins.grade
    group by all
),

proportions as (
    select
        totals.*,
        totals.n_agreeing / totals.n_patients_with_both as agreement_proportion,
        coalesce(chance_agreement.margin_products, 0)
            / (totals.n_patients_with_both * totals.n_patients_with_both) as chance_agreement_proportion
    from totals
    left join chance_agreement
        on totals.toxicity = chance_agreement.toxicity
        and totals.reported_grading_system = chance_agreement.reported_grading_system
),

final as (
    select
        toxicity,
        reported_grading_system,
        n_patients_with_both,
        n_agreeing,
        n_derived_higher,
        n_reported_higher,
        agreement_proportion,
        case
            when chance_agreement_proportion < 1
                then (agreement_proportion - chance_agreement_proportion)
                    / (1 - chance_agreement_proportion)
        end as cohen_kappa
    from proportions
)

select * from final
