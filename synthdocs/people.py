"""Made-up people: names, addresses, resident ID numbers (GB 11643) and bank cards (Luhn)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from loanflow.ocr.bins import BINS
from loanflow.types import id_check_char, luhn_check_digit

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬斌宇浩凯健"
    "俊帆帅旭宁龙林欣悦晨瑞博文雪琳晶佳鑫淑珍建国志勇海波春梅丹峰辉鹏飞亮成立新荣慧颖"
    "婷倩云"
)
# (administrative division code, the place's written address prefix, its public security bureau)
REGIONS: tuple[tuple[str, str, str], ...] = (
    ("110105", "北京市朝阳区", "北京市公安局朝阳分局"),
    ("110108", "北京市海淀区", "北京市公安局海淀分局"),
    ("310104", "上海市徐汇区", "上海市公安局徐汇分局"),
    ("310115", "上海市浦东新区", "上海市公安局浦东分局"),
    ("440106", "广东省广州市天河区", "广州市公安局天河分局"),
    ("440305", "广东省深圳市南山区", "深圳市公安局南山分局"),
    ("330106", "浙江省杭州市西湖区", "杭州市公安局西湖分局"),
    ("320102", "江苏省南京市玄武区", "南京市公安局玄武分局"),
    ("510107", "四川省成都市武侯区", "成都市公安局武侯区分局"),
    ("420106", "湖北省武汉市武昌区", "武汉市公安局武昌区分局"),
    ("610113", "陕西省西安市雁塔区", "西安市公安局雁塔分局"),
    ("370202", "山东省青岛市市南区", "青岛市公安局市南分局"),
    ("430104", "湖南省长沙市岳麓区", "长沙市公安局岳麓分局"),
    ("500103", "重庆市渝中区", "重庆市公安局渝中区分局"),
    ("120101", "天津市和平区", "天津市公安局和平分局"),
    ("350203", "福建省厦门市思明区", "厦门市公安局思明分局"),
)
STREETS = [
    "人民",
    "建设",
    "解放",
    "中山",
    "和平",
    "胜利",
    "幸福",
    "光明",
    "长江",
    "黄河",
    "新华",
    "文化",
    "朝阳",
    "东风",
    "青年",
    "学府",
    "科技",
    "滨江",
]
STREET_KINDS = ("路", "街", "大道")
COMMUNITIES = ["阳光", "锦绣", "翠园", "金色", "华府", "东方", "御景", "名都", "丽景", "春华"]
ETHNICITIES = ("汉",) * 12 + ("回", "满", "壮", "蒙古", "苗", "土家", "维吾尔", "彝")


@dataclass(frozen=True)
class Person:
    name: str
    sex: str  # "男" / "女"
    ethnicity: str
    birth_date: date
    address: str
    id_number: str
    issuing_authority: str
    valid_from: date
    valid_until: date | None  # None: 长期 (long-term)
    bank_card: str
    bank_name: str
    pinyin_initials: str


def _id_number(rng: random.Random, region: str, birth: date, male: bool) -> str:
    sequence = rng.randrange(0, 100) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_check_char(first17)


def _bank_card(rng: random.Random) -> tuple[str, str]:
    bin_, (bank, length) = rng.choice(sorted(BINS.items()))
    partial = bin_ + "".join(rng.choice("0123456789") for _ in range(length - len(bin_) - 1))
    return partial + luhn_check_digit(partial), bank


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year + years, day=28)


def make_person(rng: random.Random, *, today: date = date(2026, 12, 3)) -> Person:
    male = rng.random() < 0.5
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    birth = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 365 * 45))
    region, place, authority = rng.choice(REGIONS)
    street = rng.choice(STREETS) + rng.choice(STREET_KINDS)
    address = f"{place}{street}{rng.randrange(1, 400)}号"
    if rng.random() < 0.6:
        building, floor, flat = rng.randrange(1, 30), rng.randrange(1, 30), rng.randrange(1, 5)
        address += f"{rng.choice(COMMUNITIES)}小区{building}栋{floor}0{flat}室"
    issued = today - timedelta(days=rng.randrange(30, 365 * 9))
    age = (issued - birth).days // 365
    years = 5 if age < 16 else 10 if age < 26 else 20 if age < 46 else None
    until = _add_years(issued, years) if years else None
    card, bank = _bank_card(rng)
    return Person(
        name=name,
        sex="男" if male else "女",
        ethnicity=rng.choice(ETHNICITIES),
        birth_date=birth,
        address=address,
        id_number=_id_number(rng, region, birth, male),
        issuing_authority=authority,
        valid_from=issued,
        valid_until=until,
        bank_card=card,
        bank_name=bank,
        pinyin_initials="".join(rng.choice("ABCDEFGHJKLMNPQRSTWXYZ") for _ in range(2)),
    )
