{#
  ASTCT 2019 ICANS grading of one day (clinical-rules.md, "ICANS grade of one day"): one grade
  per domain; the day's grade is the most severe, 0 on a day with neuro_other_cause = yes.
#}

{# ICE (age >= 12): 7-9 -> 1, 3-6 -> 2, 0-2 -> 3, 0 and unarousable -> 4; 10 or missing -> 0. #}
{% macro icans_ice_grade(ice_score, consciousness) -%}
case
    when {{ ice_score }} is null or {{ ice_score }} >= 10 then 0
    when {{ ice_score }} >= 7 then 1
    when {{ ice_score }} >= 3 then 2
    when {{ ice_score }} = 0 and {{ consciousness }} = 'unarousable' then 4
    else 3
end
{%- endmacro %}

{# CAPD (age < 12, instead of ICE): 1-8 -> 1 (2 with the grade-2 consciousness,
   awakens_to_voice), >= 9 -> 3; 0 or missing -> 0. Unable to perform: see consciousness. #}
{% macro icans_capd_grade(capd_score, consciousness) -%}
case
    when {{ capd_score }} is null or {{ capd_score }} <= 0 then 0
    when {{ capd_score }} >= 9 then 3
    when {{ consciousness }} = 'awakens_to_voice' then 2
    else 1
end
{%- endmacro %}

{% macro icans_consciousness_grade(consciousness) -%}
case {{ consciousness }}
    when 'awakens_spontaneously' then 1
    when 'awakens_to_voice' then 2
    when 'awakens_to_tactile' then 3
    when 'unarousable' then 4
    else 0
end
{%- endmacro %}

{% macro icans_seizure_grade(seizure) -%}
case {{ seizure }}
    when 'resolved_rapidly' then 3
    when 'prolonged_or_repetitive' then 4
    else 0
end
{%- endmacro %}

{% macro icans_motor_grade(motor_weakness) -%}
case when {{ motor_weakness }} = 'yes' then 4 else 0 end
{%- endmacro %}

{% macro icans_edema_grade(cerebral_edema) -%}
case {{ cerebral_edema }}
    when 'focal' then 3
    when 'diffuse' then 4
    else 0
end
{%- endmacro %}

{% macro icans_raised_icp_grade(raised_icp_signs) -%}
case when {{ raised_icp_signs }} = 'yes' then 4 else 0 end
{%- endmacro %}
