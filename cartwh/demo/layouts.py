"""The four delivery layouts: the canonical one (``xz`` and extra centres) and
the own layouts of ``tj`` (Excel), ``zz`` (GB18030 CSV, Chinese) and ``zj``
(wide daily observations, °F, mg/kg doses).

A layout converts canonical frames (epoch-day dates, canonical codes and
units) into *layout frames*: the centre's column names, codes and units, with
typed values (dates still epoch days); :mod:`writers` formats and writes them.
``mappings/<centre>.yml`` is the inverse of the spec written here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.extract_format import ENTITIES, Column

from .config import WINDOW


@dataclass(frozen=True)
class Col:
    name: str  # column name in the centre's file
    canon: str  # canonical column
    codes: dict | None = None  # canonical code -> centre's code
    unit: str | None = None  # unit of the centre's column when not canonical (degF)


@dataclass(frozen=True)
class Wide:
    id_col: str
    measures: tuple[Col, ...]  # Col.name is the measure name
    days: tuple[int, int] = (0, WINDOW)

    def column(self, measure: str, day: int) -> str:
        return f"{measure}_D{day}"


@dataclass(frozen=True)
class EntityLayout:
    file: str  # file name; {d} = delivery date as YYYYMMDD
    columns: tuple[Col, ...] = ()
    sheet: str | None = None
    constants: dict = field(default_factory=dict)  # canonical column -> constant (mapping 'value')
    lab_units: dict | None = (
        None  # analyte -> (unit text, factor from canonical, canonical unit code)
    )
    dose_per_kg: bool = False  # doses delivered in mg/kg (weight from patients)
    wide: Wide | None = None


@dataclass(frozen=True)
class Layout:
    name: str
    format: str = "csv"  # csv | excel
    encoding: str = "utf-8"
    separator: str = ","
    decimal: str = "."
    date_format: str = "iso"  # iso | excel_serial | strftime pattern
    workbook: str | None = None  # excel file name; {d} = delivery date
    manifest: bool = False
    chinese: bool = False  # unknown codes in Chinese
    entities: dict = field(default_factory=dict)


YN = {"yes": "Y", "no": "N"}
ZH_YN = {"yes": "是", "no": "否"}


def _canonical() -> Layout:
    ents = {
        name: EntityLayout(file=e.file_name, columns=tuple(Col(c.name, c.name) for c in e.columns))
        for name, e in ENTITIES.items()
    }
    return Layout("canonical", manifest=True, entities=ents)


def _tj() -> Layout:
    C = Col
    return Layout(
        "tj",
        format="excel",
        date_format="excel_serial",
        workbook="tj_cart_export_{d}.xlsx",
        entities={
            "patients": EntityLayout(
                "",
                sheet="Patients",
                columns=(
                    C("PatientID", "centre_patient_id"),
                    C("MRN", "mrn"),
                    C("Name", "full_name"),
                    C("DOB", "date_of_birth"),
                    C("Gender", "sex", {"m": "M", "f": "F"}),
                    C("DiagnosisDate", "diagnosis_date"),
                    C("Ph", "ph_status", {"positive": "Pos", "negative": "Neg", "unknown": "Unk"}),
                    C("PriorLines", "prior_therapy_lines"),
                    C("PriorRelapses", "relapse_count"),
                    C(
                        "DiseaseStatus",
                        "disease_status",
                        {"relapsed": "Relapsed", "refractory": "Refractory"},
                    ),
                    C("PriorHSCT", "prior_hsct", YN),
                    C("BM_Blasts_Pct", "bm_blasts_pct_pre"),
                    C("EMD", "extramedullary_pre", YN),
                    C("Weight_kg", "weight_kg"),
                    C("CRS_Grade", "reported_crs_grade"),
                    C("ICANS_Grade", "reported_icans_grade"),
                    C(
                        "GradingSystem",
                        "reported_grading_system",
                        {"astct2019": "ASTCT 2019", "lee2014": "Lee 2014"},
                    ),
                ),
            ),
            "infusions": EntityLayout(
                "",
                sheet="Infusions",
                columns=(
                    C("PatientID", "centre_patient_id"),
                    C("InfusionNo", "infusion_number"),
                    C("InfusionDate", "infusion_date"),
                    C("CellDose_per_kg", "cell_dose_per_kg"),
                    C("Product", "product_name"),
                    C(
                        "Costim",
                        "costimulatory_domain",
                        {"4-1bb": "4-1BB", "cd28": "CD28", "other": "Other"},
                    ),
                    C(
                        "LD",
                        "lymphodepletion",
                        {"flu_cy": "Flu/Cy", "other": "Other", "none": "No LD"},
                    ),
                ),
            ),
            "daily_observations": EntityLayout(
                "",
                sheet="DailyObs",
                columns=(
                    C("PatientID", "centre_patient_id"),
                    C("Date", "obs_date"),
                    C("Tmax_C", "tmax_c"),
                    C("FeverOtherCause", "fever_other_cause", YN),
                    C("Hypotension", "hypotension", YN),
                    C("Vasopressors", "vasopressor_count"),
                    C("Vasopressin", "vasopressin", YN),
                    C(
                        "O2Device",
                        "oxygen_device",
                        {
                            "none": "RA",
                            "nasal_cannula": "NC",
                            "blow_by": "Blow-by",
                            "high_flow_nasal_cannula": "HFNC",
                            "facemask": "Face mask",
                            "non_rebreather": "NRB",
                            "venturi": "Venturi",
                            "cpap": "CPAP",
                            "bipap": "BiPAP",
                            "mechanical_ventilation": "MV",
                        },
                    ),
                    C("O2Flow_Lmin", "oxygen_flow_l_min"),
                    C("ICE", "ice_score"),
                    C("CAPD", "capd_score"),
                    C(
                        "Consciousness",
                        "consciousness",
                        {
                            "alert": "Alert",
                            "awakens_spontaneously": "Drowsy",
                            "awakens_to_voice": "Voice",
                            "awakens_to_tactile": "Touch",
                            "unarousable": "Unarousable",
                        },
                    ),
                    C(
                        "Seizure",
                        "seizure",
                        {
                            "none": "Nil",
                            "resolved_rapidly": "Brief",
                            "prolonged_or_repetitive": "Prolonged",
                        },
                    ),
                    C("MotorWeakness", "motor_weakness", YN),
                    C(
                        "CerebralEdema",
                        "cerebral_edema",
                        {"none": "Nil", "focal": "Focal", "diffuse": "Diffuse"},
                    ),
                    C("RaisedICP", "raised_icp_signs", YN),
                    C("NeuroOtherCause", "neuro_other_cause", YN),
                ),
            ),
            "labs": EntityLayout(
                "",
                sheet="Labs",
                columns=(
                    C("PatientID", "centre_patient_id"),
                    C("SampleDate", "sample_date"),
                    C("Test", "analyte", {"il6": "IL-6", "ferritin": "Ferritin", "crp": "CRP"}),
                    C("Result", "value"),
                    C("Unit", "unit"),
                ),
                lab_units={
                    "il6": ("ng/mL", 1e-3, "ng/ml"),
                    "ferritin": ("µg/L", 1.0, "ug/l"),
                    "crp": ("mg/L", 1.0, "mg/l"),
                },
            ),
            "car_t_kinetics": EntityLayout(
                "",
                sheet="CAR_qPCR",
                columns=(
                    C("PatientID", "centre_patient_id"),
                    C("SampleDate", "sample_date"),
                    C("Specimen", "specimen", {"peripheral_blood": "PB", "bone_marrow": "BM"}),
                    C("Copies_per_ug_DNA", "copies_per_ug_gdna"),
                ),
            ),
            "treatments": EntityLayout(
                "",
                sheet="Treatments",
                columns=(
                    C("PatientID", "centre_patient_id"),
                    C("AdminDate", "admin_date"),
                    C(
                        "Drug",
                        "drug",
                        {d: d.capitalize() for d in ENTITIES["treatments"].column("drug").codes},
                    ),
                    C("Dose", "dose"),
                    C("DoseUnit", "dose_unit", {"mg": "mg", "mg_per_kg": "mg/kg"}),
                    C(
                        "Indication",
                        "indication",
                        {"crs": "CRS", "icans": "ICANS", "other": "Other"},
                    ),
                ),
            ),
            "response_assessments": EntityLayout(
                "",
                sheet="Response",
                columns=(
                    C("PatientID", "centre_patient_id"),
                    C("AssessDate", "assessment_date"),
                    C("BM_Blasts_Pct", "bm_blasts_pct"),
                    C("PB_Blasts", "circulating_blasts", YN),
                    C(
                        "EMD",
                        "extramedullary_disease",
                        {"yes": "Y", "no": "N", "not_assessed": "Not assessed"},
                    ),
                    C("MRD_Pct", "mrd_pct"),
                ),
            ),
            "follow_up_events": EntityLayout(
                "",
                sheet="FollowUp",
                columns=(
                    C("PatientID", "centre_patient_id"),
                    C("EventDate", "event_date"),
                    C(
                        "Event",
                        "event_type",
                        {
                            "relapse": "Relapse",
                            "death": "Death",
                            "last_contact": "Last contact",
                            "allo_hsct": "Allo-HSCT",
                        },
                    ),
                    C(
                        "RelapseSite",
                        "relapse_site",
                        {
                            "bone_marrow": "BM",
                            "extramedullary": "EMD",
                            "cns": "CNS",
                            "combined": "Combined",
                        },
                    ),
                    C(
                        "CD19",
                        "cd19_status",
                        {"positive": "Pos", "negative": "Neg", "unknown": "Unk"},
                    ),
                    C(
                        "DeathCause",
                        "death_cause",
                        {
                            "disease": "Disease",
                            "crs": "CRS",
                            "icans": "ICANS",
                            "infection": "Infection",
                            "transplant": "TRM",
                            "other": "Other",
                            "unknown": "Unknown",
                        },
                    ),
                ),
            ),
        },
    )


def _zz() -> Layout:
    C = Col
    pid = C("患者编号", "centre_patient_id")
    return Layout(
        "zz",
        encoding="gb18030",
        separator=";",
        decimal=",",
        date_format="%d.%m.%Y",
        chinese=True,
        entities={
            "patients": EntityLayout(
                "huanzhe.csv",
                columns=(
                    pid,
                    C("病案号", "mrn"),
                    C("姓名", "full_name"),
                    C("出生日期", "date_of_birth"),
                    C("性别", "sex", {"m": "男", "f": "女"}),
                    C("诊断日期", "diagnosis_date"),
                    C(
                        "Ph染色体",
                        "ph_status",
                        {"positive": "阳性", "negative": "阴性", "unknown": "未知"},
                    ),
                    C("既往治疗线数", "prior_therapy_lines"),
                    C("既往复发次数", "relapse_count"),
                    C("疾病状态", "disease_status", {"relapsed": "复发", "refractory": "难治"}),
                    C("既往移植", "prior_hsct", ZH_YN),
                    C("输注前骨髓原始细胞(%)", "bm_blasts_pct_pre"),
                    C("髓外病变", "extramedullary_pre", ZH_YN),
                    C("体重(kg)", "weight_kg"),
                    C("CRS分级", "reported_crs_grade"),
                    C("ICANS分级", "reported_icans_grade"),
                    C(
                        "分级标准",
                        "reported_grading_system",
                        {"astct2019": "ASTCT2019", "lee2014": "Lee2014"},
                    ),
                ),
            ),
            "infusions": EntityLayout(
                "shuzhu.csv",
                columns=(
                    pid,
                    C("输注序号", "infusion_number"),
                    C("输注日期", "infusion_date"),
                    C("细胞剂量(个/kg)", "cell_dose_per_kg"),
                    C("产品名称", "product_name"),
                    C(
                        "共刺激域",
                        "costimulatory_domain",
                        {"4-1bb": "4-1BB", "cd28": "CD28", "other": "其他"},
                    ),
                    C(
                        "预处理方案",
                        "lymphodepletion",
                        {"flu_cy": "FC", "other": "其他", "none": "无"},
                    ),
                ),
            ),
            "daily_observations": EntityLayout(
                "meiri_guancha.csv",
                columns=(
                    pid,
                    C("日期", "obs_date"),
                    C("最高体温(℃)", "tmax_c"),
                    C("发热其他原因", "fever_other_cause", ZH_YN),
                    C("低血压", "hypotension", ZH_YN),
                    C("升压药数量", "vasopressor_count"),
                    C("血管加压素", "vasopressin", ZH_YN),
                    C(
                        "吸氧方式",
                        "oxygen_device",
                        {
                            "none": "未吸氧",
                            "nasal_cannula": "鼻导管",
                            "blow_by": "吹氧",
                            "high_flow_nasal_cannula": "高流量鼻导管",
                            "facemask": "面罩",
                            "non_rebreather": "储氧面罩",
                            "venturi": "文丘里面罩",
                            "cpap": "CPAP",
                            "bipap": "BiPAP",
                            "mechanical_ventilation": "机械通气",
                        },
                    ),
                    C("氧流量(L/min)", "oxygen_flow_l_min"),
                    C("ICE评分", "ice_score"),
                    C("CAPD评分", "capd_score"),
                    C(
                        "意识状态",
                        "consciousness",
                        {
                            "alert": "清醒",
                            "awakens_spontaneously": "嗜睡",
                            "awakens_to_voice": "呼之能醒",
                            "awakens_to_tactile": "触之能醒",
                            "unarousable": "不能唤醒",
                        },
                    ),
                    C(
                        "癫痫发作",
                        "seizure",
                        {
                            "none": "无",
                            "resolved_rapidly": "短暂发作",
                            "prolonged_or_repetitive": "持续或反复发作",
                        },
                    ),
                    C("运动无力", "motor_weakness", ZH_YN),
                    C(
                        "脑水肿",
                        "cerebral_edema",
                        {"none": "无", "focal": "局灶性", "diffuse": "弥漫性"},
                    ),
                    C("颅内压增高", "raised_icp_signs", ZH_YN),
                    C("神经症状其他原因", "neuro_other_cause", ZH_YN),
                ),
            ),
            "labs": EntityLayout(
                "jianyan.csv",
                columns=(
                    pid,
                    C("采样日期", "sample_date"),
                    C(
                        "检验项目",
                        "analyte",
                        {"il6": "白介素-6", "ferritin": "铁蛋白", "crp": "C反应蛋白"},
                    ),
                    C("结果", "value"),
                    C("单位", "unit"),
                ),
                lab_units={
                    "il6": ("ng/L", 1.0, "ng/l"),
                    "ferritin": ("ng/mL", 1.0, "ng/ml"),
                    "crp": ("mg/dL", 0.1, "mg/dl"),
                },
            ),
            "car_t_kinetics": EntityLayout(
                "car_t_kuozeng.csv",
                columns=(
                    pid,
                    C("采样日期", "sample_date"),
                    C(
                        "标本类型",
                        "specimen",
                        {"peripheral_blood": "外周血", "bone_marrow": "骨髓"},
                    ),
                    C("拷贝数/μg DNA", "copies_per_ug_gdna"),
                ),
            ),
            "treatments": EntityLayout(
                "zhiliao.csv",
                columns=(
                    pid,
                    C("给药日期", "admin_date"),
                    C(
                        "药物",
                        "drug",
                        {
                            "tocilizumab": "托珠单抗",
                            "dexamethasone": "地塞米松",
                            "methylprednisolone": "甲泼尼龙",
                            "prednisone": "泼尼松",
                            "prednisolone": "泼尼松龙",
                            "hydrocortisone": "氢化可的松",
                            "siltuximab": "司妥昔单抗",
                            "anakinra": "阿那白滞素",
                        },
                    ),
                    C("剂量", "dose"),
                    C("剂量单位", "dose_unit", {"mg": "mg", "mg_per_kg": "mg/kg"}),
                    C("用药指征", "indication", {"crs": "CRS", "icans": "ICANS", "other": "其他"}),
                ),
            ),
            "response_assessments": EntityLayout(
                "liaoxiao_pinggu.csv",
                columns=(
                    pid,
                    C("评估日期", "assessment_date"),
                    C("骨髓原始细胞(%)", "bm_blasts_pct"),
                    C("外周血原始细胞", "circulating_blasts", ZH_YN),
                    C(
                        "髓外病变",
                        "extramedullary_disease",
                        {"yes": "是", "no": "否", "not_assessed": "未评估"},
                    ),
                    C("MRD(%)", "mrd_pct"),
                ),
            ),
            "follow_up_events": EntityLayout(
                "suifang.csv",
                columns=(
                    pid,
                    C("事件日期", "event_date"),
                    C(
                        "事件类型",
                        "event_type",
                        {
                            "relapse": "复发",
                            "death": "死亡",
                            "last_contact": "末次随访",
                            "allo_hsct": "异基因造血干细胞移植",
                        },
                    ),
                    C(
                        "复发部位",
                        "relapse_site",
                        {
                            "bone_marrow": "骨髓",
                            "extramedullary": "髓外",
                            "cns": "中枢神经系统",
                            "combined": "混合",
                        },
                    ),
                    C(
                        "CD19状态",
                        "cd19_status",
                        {"positive": "阳性", "negative": "阴性", "unknown": "未知"},
                    ),
                    C(
                        "死亡原因",
                        "death_cause",
                        {
                            "disease": "疾病进展",
                            "crs": "CRS",
                            "icans": "ICANS",
                            "infection": "感染",
                            "transplant": "移植相关",
                            "other": "其他",
                            "unknown": "不详",
                        },
                    ),
                ),
            ),
        },
    )


def _zj() -> Layout:
    C = Col
    pid = C("PID", "centre_patient_id")
    measures = (
        C("TEMP", "tmax_c", unit="degF"),
        C("FEVOTH", "fever_other_cause", YN),
        C("HYPO", "hypotension", YN),
        C("VASO", "vasopressor_count"),
        C("VSPN", "vasopressin", YN),
        C(
            "O2DEV",
            "oxygen_device",
            {
                "none": "RA",
                "nasal_cannula": "NC",
                "blow_by": "BB",
                "high_flow_nasal_cannula": "HFNC",
                "facemask": "FM",
                "non_rebreather": "NRB",
                "venturi": "VM",
                "cpap": "CPAP",
                "bipap": "BIPAP",
                "mechanical_ventilation": "MV",
            },
        ),
        C("O2FLOW", "oxygen_flow_l_min"),
        C("ICE", "ice_score"),
        C("CAPD", "capd_score"),
        C(
            "LOC",
            "consciousness",
            {
                "alert": "A",
                "awakens_spontaneously": "S",
                "awakens_to_voice": "V",
                "awakens_to_tactile": "T",
                "unarousable": "U",
            },
        ),
        C(
            "SEIZ",
            "seizure",
            {"none": "NO", "resolved_rapidly": "BRIEF", "prolonged_or_repetitive": "PROLONGED"},
        ),
        C("MOTOR", "motor_weakness", YN),
        C("EDEMA", "cerebral_edema", {"none": "NO", "focal": "FOCAL", "diffuse": "DIFFUSE"}),
        C("ICP", "raised_icp_signs", YN),
        C("NEUROTH", "neuro_other_cause", YN),
    )
    return Layout(
        "zj",
        date_format="%Y%m%d",
        manifest=True,
        entities={
            "patients": EntityLayout(
                "ZJ_PATIENTS.csv",
                columns=(
                    pid,
                    C("MRN", "mrn"),
                    C("PT_NAME", "full_name"),
                    C("BIRTH_DT", "date_of_birth"),
                    C("SEX", "sex", {"m": "1", "f": "2"}),
                    C("DX_DT", "diagnosis_date"),
                    C("PH", "ph_status", {"positive": "POS", "negative": "NEG", "unknown": "UNK"}),
                    C("N_LINES", "prior_therapy_lines"),
                    C("N_RELAPSE", "relapse_count"),
                    C("DZ_STATUS", "disease_status", {"relapsed": "REL", "refractory": "REF"}),
                    C("PRIOR_ALLO", "prior_hsct", YN),
                    C("BM_BLAST_PRE", "bm_blasts_pct_pre"),
                    C("EMD_PRE", "extramedullary_pre", YN),
                    C("WT_KG", "weight_kg"),
                    C("CRS_GR", "reported_crs_grade"),
                    C("ICANS_GR", "reported_icans_grade"),
                    C(
                        "GR_SYS",
                        "reported_grading_system",
                        {"astct2019": "ASTCT", "lee2014": "LEE"},
                    ),
                ),
            ),
            "infusions": EntityLayout(
                "ZJ_INFUSIONS.csv",
                columns=(
                    pid,
                    C("INF_NO", "infusion_number"),
                    C("INF_DT", "infusion_date"),
                    C("DOSE_PER_KG", "cell_dose_per_kg"),
                    C("PRODUCT", "product_name"),
                    C(
                        "COSTIM",
                        "costimulatory_domain",
                        {"4-1bb": "41BB", "cd28": "CD28", "other": "OTHER"},
                    ),
                    C("LD", "lymphodepletion", {"flu_cy": "FC", "other": "OTHER", "none": "NONE"}),
                ),
            ),
            "daily_observations": EntityLayout("ZJ_OBS_WIDE.csv", wide=Wide("PID", measures)),
            "labs": EntityLayout(
                "ZJ_LABS.csv",
                columns=(
                    pid,
                    C("LAB_DT", "sample_date"),
                    C("TEST", "analyte", {"il6": "IL6", "ferritin": "FERR", "crp": "CRP"}),
                    C("RESULT", "value"),
                    C("UNIT", "unit"),
                ),
                lab_units={
                    "il6": ("pg/mL", 1.0, "pg/ml"),
                    "ferritin": ("ng/mL", 1.0, "ng/ml"),
                    "crp": ("mg/dL", 0.1, "mg/dl"),
                },
            ),
            "car_t_kinetics": EntityLayout(
                "ZJ_QPCR.csv",
                columns=(
                    pid,
                    C("SAMPLE_DT", "sample_date"),
                    C("SPECIMEN", "specimen", {"peripheral_blood": "PB", "bone_marrow": "BM"}),
                    C("COPIES_UG", "copies_per_ug_gdna"),
                ),
            ),
            "treatments": EntityLayout(
                "ZJ_TREATMENTS.csv",
                columns=(
                    pid,
                    C("ADMIN_DT", "admin_date"),
                    C(
                        "DRUG",
                        "drug",
                        {
                            "tocilizumab": "TCZ",
                            "dexamethasone": "DEX",
                            "methylprednisolone": "MP",
                            "prednisone": "PDN",
                            "prednisolone": "PDL",
                            "hydrocortisone": "HC",
                            "siltuximab": "SILT",
                            "anakinra": "ANAK",
                        },
                    ),
                    C("DOSE_MG_KG", "dose"),
                    C(
                        "INDICATION",
                        "indication",
                        {"crs": "CRS", "icans": "ICANS", "other": "OTHER"},
                    ),
                ),
                constants={"dose_unit": "mg_per_kg"},
                dose_per_kg=True,
            ),
            "response_assessments": EntityLayout(
                "ZJ_RESPONSE.csv",
                columns=(
                    pid,
                    C("ASSESS_DT", "assessment_date"),
                    C("BM_BLAST", "bm_blasts_pct"),
                    C("PB_BLAST", "circulating_blasts", YN),
                    C(
                        "EMD",
                        "extramedullary_disease",
                        {"yes": "Y", "no": "N", "not_assessed": "NE"},
                    ),
                    C("MRD_PCT", "mrd_pct"),
                ),
            ),
            "follow_up_events": EntityLayout(
                "ZJ_FOLLOWUP.csv",
                columns=(
                    pid,
                    C("EVENT_DT", "event_date"),
                    C(
                        "EVENT",
                        "event_type",
                        {
                            "relapse": "RELAPSE",
                            "death": "DEATH",
                            "last_contact": "LAST_CONTACT",
                            "allo_hsct": "ALLO_HSCT",
                        },
                    ),
                    C(
                        "REL_SITE",
                        "relapse_site",
                        {
                            "bone_marrow": "BM",
                            "extramedullary": "EMD",
                            "cns": "CNS",
                            "combined": "COMBINED",
                        },
                    ),
                    C(
                        "CD19",
                        "cd19_status",
                        {"positive": "POS", "negative": "NEG", "unknown": "UNK"},
                    ),
                    C(
                        "DEATH_CAUSE",
                        "death_cause",
                        {
                            "disease": "DISEASE",
                            "crs": "CRS",
                            "icans": "ICANS",
                            "infection": "INFECTION",
                            "transplant": "TRM",
                            "other": "OTHER",
                            "unknown": "UNKNOWN",
                        },
                    ),
                ),
            ),
        },
    )


LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in (_canonical(), _tj(), _zz(), _zj())}


# --- conversion -----------------------------------------------------------------


@dataclass(frozen=True)
class Meta:
    """What one column of a layout frame holds."""

    name: str
    entity: str
    canon: Column
    codes: dict | None
    unit: str | None


@dataclass
class LayoutFrame:
    entity: str
    df: pd.DataFrame  # layout columns, then hidden _pi, _day0
    meta: dict  # layout column -> Meta

    @property
    def columns(self) -> list[str]:
        return [c for c in self.df.columns if not c.startswith("_")]


def header(layout: Layout, entity: str) -> list[str]:
    el = layout.entities[entity]
    if el.wide:
        w = el.wide
        return [w.id_col] + [
            w.column(m.name, d) for m in w.measures for d in range(w.days[0], w.days[1] + 1)
        ]
    return [c.name for c in el.columns]


def column_metas(layout: Layout, entity: str) -> dict[str, Meta]:
    el, ent = layout.entities[entity], ENTITIES[entity]
    if el.wide:
        w = el.wide
        out = {w.id_col: Meta(w.id_col, entity, ent.column("centre_patient_id"), None, None)}
        for m in w.measures:
            for d in range(w.days[0], w.days[1] + 1):
                name = w.column(m.name, d)
                out[name] = Meta(name, entity, ent.column(m.canon), m.codes, m.unit)
        return out
    return {c.name: Meta(c.name, entity, ent.column(c.canon), c.codes, c.unit) for c in el.columns}


def encode_codes(values: np.ndarray, codes: dict | None) -> np.ndarray:
    """Canonical codes -> the centre's codes (values not in the map pass through)."""
    if not codes:
        return values
    s = pd.Series(values, dtype=object)
    mapped = s.map(codes)
    return mapped.where(mapped.notna(), s).to_numpy(dtype=object)


def convert_unit(values: np.ndarray, unit: str | None) -> np.ndarray:
    if unit == "degF":
        return np.round(values * 9.0 / 5.0 + 32.0, 2)
    return values


def to_layout(
    layout: Layout, entity: str, df: pd.DataFrame, day0: np.ndarray, weight: np.ndarray
) -> LayoutFrame:
    """One canonical frame of a snapshot in the centre's layout.

    ``day0`` and ``weight`` are indexed by the chunk's patient index ``_pi``.
    """
    el = layout.entities[entity]
    metas = column_metas(layout, entity)
    pi = df["_pi"].to_numpy()
    if el.wide:
        return _to_wide(el.wide, entity, df, day0, metas)
    src = df
    if el.lab_units:
        src = df.copy()
        analyte = df["analyte"].to_numpy(dtype=object)
        factor = np.ones(len(df))
        unit = src["unit"].to_numpy(dtype=object).copy()
        for a, (text, f, _code) in el.lab_units.items():
            m = analyte == a
            factor[m] = f
            unit[m] = text
        src["value"] = np.round(df["value"].to_numpy() * factor, 6)
        src["unit"] = unit
    if el.dose_per_kg:
        src = src.copy() if src is df else src
        src["dose"] = np.round(df["dose"].to_numpy() / weight[pi], 4)
    data = {}
    for c in el.columns:
        v = src[c.canon].to_numpy()
        data[c.name] = convert_unit(encode_codes(v, c.codes) if c.codes else v, c.unit)
    data["_pi"] = pi
    data["_day0"] = day0[pi]
    return LayoutFrame(entity, pd.DataFrame(data), metas)


def _to_wide(w: Wide, entity: str, df: pd.DataFrame, day0: np.ndarray, metas) -> LayoutFrame:
    day = df["_day"].to_numpy()
    sel = (day >= w.days[0]) & (day <= w.days[1])
    pi, day = df["_pi"].to_numpy()[sel], day[sel]
    pats, row = np.unique(pi, return_inverse=True)
    ndays = w.days[1] - w.days[0] + 1
    col = day - w.days[0]
    ids = np.empty(len(pats), dtype=object)
    ids[row] = df["centre_patient_id"].to_numpy(dtype=object)[sel]
    data = {w.id_col: ids}
    for m in w.measures:
        v = df[m.canon].to_numpy()[sel]
        numeric = v.dtype.kind == "f"
        grid = np.full(
            (len(pats), ndays), np.nan if numeric else None, dtype=float if numeric else object
        )
        grid[row, col] = convert_unit(v, m.unit) if numeric else encode_codes(v, m.codes)
        for d in range(ndays):
            data[w.column(m.name, w.days[0] + d)] = grid[:, d]
    data["_pi"] = pats
    data["_day0"] = day0[pats]
    return LayoutFrame(entity, pd.DataFrame(data), metas)
