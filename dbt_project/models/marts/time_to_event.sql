{#
  ADaM ADTTE-style time-to-event data set: one row per patient and endpoint (OS, LFS,
  OS_HSCT_CENSORED, LFS_HSCT_CENSORED). CNSR: 0 event, 1 alive at last contact (censored at
  the last date known alive), 2 administrative cut-off, 3 censored at allogeneic HSCT.
#}
with

survival as (
    select * from {{ ref('int_survival_derived') }}
),

responses as (
    select patient_key, cr_day from {{ ref('int_response_evaluated') }}
),

endpoints as (
    select
        patient_key, centre_code, 1 as param_order, 'OS' as paramcd,
        'Overall survival from CAR-T infusion' as param,
        0 as start_day, os_days as aval_days, os_months as aval_months,
        os_censor_reason as cnsr, 'death' as event_type
    from survival
    where os_days is not null

    union all

    select
        survival.patient_key, survival.centre_code, 2, 'LFS',
        'Leukaemia-free survival from CR',
        responses.cr_day, survival.lfs_days, survival.lfs_months,
        survival.lfs_censor_reason, survival.lfs_event_type
    from survival
    inner join responses on survival.patient_key = responses.patient_key
    where survival.lfs_days is not null

    union all

    select
        patient_key, centre_code, 3, 'OS_HSCT_CENSORED',
        'Overall survival from CAR-T infusion, censored at allogeneic HSCT',
        0, os_hsct_censored_days, os_hsct_censored_months,
        os_hsct_censored_reason, 'death'
    from survival
    where os_hsct_censored_days is not null

    union all

    select
        survival.patient_key, survival.centre_code, 4, 'LFS_HSCT_CENSORED',
        'Leukaemia-free survival from CR, censored at allogeneic HSCT',
        responses.cr_day, survival.lfs_hsct_censored_days, survival.lfs_hsct_censored_months,
        survival.lfs_hsct_censored_reason, survival.lfs_event_type
    from survival
    inner join responses on survival.patient_key = responses.patient_key
    where survival.lfs_hsct_censored_days is not null
),

final as (
    select
        patient_key,
        centre_code,
        paramcd,
        param,
        param_order,
        start_day,
        aval_days,
        aval_months,
        cnsr,
        case cnsr
            when 0 then case event_type when 'relapse' then 'Relapse' else 'Death' end
            when 1 then 'Alive at last contact'
            when 2 then 'Known alive at the data cut-off'
            when 3 then 'Allogeneic HSCT'
        end as evntdesc,
        case cnsr
            when 1 then 'Last date known alive'
            when 2 then 'Data cut-off date'
            when 3 then 'Date of allogeneic HSCT'
        end as cnsdtdsc
    from endpoints
)

select * from final
