{#
  The one definition of the robustness exposures: per patient of patient_outcomes and
  exposure, whether the patient was ever exposed (the time-fixed flag of the naive analysis,
  as published) and the study day it started. exposure_intervals splits the follow-up at these
  days and the naive and landmark analyses (analysis_assets.robustness) read them from here.

  crs, icans: maximum grade >= 1 (null when not gradable), from the first day of grade >= 1.
  grade_3_plus: toxicity_group grade_3_plus (null when not gradable), from the first day of
  grade >= 3 CRS or ICANS, whichever came first (least() skips a null).
  steroids, tocilizumab: given for toxicity in the toxicity window, from the first day given.
  An onset day belongs to the exposed only; <exposure>_onset_known is false when the flag is
  unknown or the patient was exposed at an unknown day (a grade reported without daily
  observations, grade 5 by a death without a daily grade >= 3).

  crs_reported, icans_reported, grade_3_plus_reported: the same flags from the centre's
  reported maximum grades where they are on the study's scale (ASTCT 2019), from the derived
  grades otherwise (a sensitivity analysis; reported grades have no onset day).
#}
with

outcomes as (
    select * from {{ ref('patient_outcomes') }}
),

exposures as (
    select
        patient_key,
        centre_code,
        crs_max_grade >= 1 as crs,
        crs_onset_day as crs_first_day,
        icans_max_grade >= 1 as icans,
        icans_onset_day as icans_first_day,
        toxicity_group = 'grade_3_plus' as grade_3_plus,
        least(severe_crs_onset_day, severe_icans_onset_day) as grade_3_plus_first_day,
        received_steroids as steroids,
        steroid_first_day as steroids_first_day,
        received_tocilizumab as tocilizumab,
        tocilizumab_first_day as tocilizumab_first_day,
        case
            when reported_grading_system = 'astct2019' and reported_crs_grade is not null
                then reported_crs_grade
            else crs_max_grade
        end as crs_grade_as_reported,
        case
            when reported_grading_system = 'astct2019' and reported_icans_grade is not null
                then reported_icans_grade
            else icans_max_grade
        end as icans_grade_as_reported
    from outcomes
),

final as (
    select
        patient_key,
        centre_code,
        {% for exposure in robustness_exposures() %}
        {{ exposure }},
        case when {{ exposure }} then {{ exposure }}_first_day end as {{ exposure }}_onset_day,
        coalesce(
            not {{ exposure }} or ({{ exposure }} and {{ exposure }}_first_day is not null),
            false
        ) as {{ exposure }}_onset_known,
        {% endfor %}
        crs_grade_as_reported >= 1 as crs_reported,
        icans_grade_as_reported >= 1 as icans_reported,
        -- as toxicity_group: grade >= 3 of either is enough, "not" needs both known
        case
            when crs_grade_as_reported >= 3 or icans_grade_as_reported >= 3 then true
            when crs_grade_as_reported is not null and icans_grade_as_reported is not null
                then false
        end as grade_3_plus_reported
    from exposures
)

select * from final
