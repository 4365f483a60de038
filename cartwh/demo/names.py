"""Synthetic direct identifiers (names from syllable lists, MRNs); no real person."""

from __future__ import annotations

import numpy as np

_PINYIN_SURNAMES = np.array(
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Gao Lin "
    "Luo Zheng Liang Xie Song Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Pan Yuan "
    "Cai Jiang Yu Du Ye Cheng Wei Su Lu Ding Ren Shen Yao".split(),
    dtype=object,
)
_PINYIN_SYLLABLES = np.array(
    "wei fang na min jing li qiang lei jun yang yong yan jie tao ming chao xia ping gang "
    "hua hui xin yu ting hao kai lan rui bo ning xue mei long feng yun qing zhi wen dan "
    "shan lin chen hong bin xiao yi jia".split(),
    dtype=object,
)
_HANZI_SURNAMES = np.array(
    list(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐韩冯邓曹彭曾肖田董潘袁蔡蒋余杜叶程魏苏吕丁任沈姚"
    ),
    dtype=object,
)
_HANZI_GIVEN = np.array(
    list(
        "伟芳娜敏静丽强磊军洋勇艳杰涛明超霞平刚华慧鑫宇婷浩凯兰瑞博宁雪梅龙峰云青志文丹珊林晨红斌晓怡佳"
    ),
    dtype=object,
)


def full_names(rng: np.random.Generator, n: int, hanzi: bool) -> np.ndarray:
    if hanzi:
        sur, given = _HANZI_SURNAMES, _HANZI_GIVEN
    else:
        sur, given = _PINYIN_SURNAMES, _PINYIN_SYLLABLES
    s = sur[rng.integers(0, len(sur), n)]
    g1 = given[rng.integers(0, len(given), n)]
    g2 = given[rng.integers(0, len(given), n)]
    two = rng.random(n) < 0.7
    if hanzi:
        return np.where(two, s + g1 + g2, s + g1)
    first = np.array([x.capitalize() for x in g1], dtype=object) if n else g1
    return np.where(two, s + " " + first + g2, s + " " + first)


def mrns(centre_index: int, start: int, n: int) -> np.ndarray:
    """Distinct 8-digit record numbers within a centre (an affine bijection mod 10^8)."""
    i = np.arange(start, start + n, dtype=np.int64)
    v = (i * 7_919_347 + 48_271_123 * (centre_index + 1) + 3_141_593) % 100_000_000
    return np.array([f"{x:08d}" for x in v], dtype=object)


def patient_ids(prefix: str, start: int, n: int, width: int) -> np.ndarray:
    return np.array(
        [f"{prefix}{i:0{width}d}" for i in range(start + 1, start + n + 1)], dtype=object
    )
