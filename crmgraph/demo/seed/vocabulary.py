"""Word lists the seed generator draws from: names in English and Chinese, places, industries, products.

Hand-kept rather than drawn from a fake-data library so that a seed gives the same estate on every
machine and every library version (the identity ground truth depends on it), and so that generating
100,000 customers stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass

EN_FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark", "Sandra", "Steven", "Ashley",
    "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle", "Kevin", "Carol", "Brian", "Amanda",
    "George", "Melissa", "Oliver", "Sophie", "Lukas", "Hannah", "Felix", "Lena", "Noah", "Emma",
)  # fmt: skip
EN_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson",
    "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Parker", "Collins",
    "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Tan", "Lim",
)  # fmt: skip
ZH_SURNAMES = (
    ("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"), ("杨", "Yang"),
    ("黄", "Huang"), ("赵", "Zhao"), ("吴", "Wu"), ("周", "Zhou"), ("徐", "Xu"), ("孙", "Sun"),
    ("马", "Ma"), ("朱", "Zhu"), ("胡", "Hu"), ("郭", "Guo"), ("何", "He"), ("高", "Gao"),
    ("林", "Lin"), ("罗", "Luo"), ("郑", "Zheng"), ("梁", "Liang"), ("谢", "Xie"), ("宋", "Song"),
)  # fmt: skip
ZH_GIVEN_NAMES = (
    ("伟", "Wei"), ("芳", "Fang"), ("娜", "Na"), ("敏", "Min"), ("静", "Jing"), ("丽", "Li"),
    ("强", "Qiang"), ("磊", "Lei"), ("军", "Jun"), ("洋", "Yang"), ("勇", "Yong"), ("艳", "Yan"),
    ("杰", "Jie"), ("娟", "Juan"), ("涛", "Tao"), ("明", "Ming"), ("超", "Chao"), ("秀英", "Xiuying"),
    ("海燕", "Haiyan"), ("建华", "Jianhua"), ("志强", "Zhiqiang"), ("晓东", "Xiaodong"), ("丹", "Dan"),
    ("鹏", "Peng"), ("欣怡", "Xinyi"), ("子轩", "Zixuan"), ("雨涵", "Yuhan"), ("浩然", "Haoran"),
)  # fmt: skip

EN_COMPANY_WORDS = (
    "Northwind", "Contoso", "Fabrikam", "Blue Harbor", "Summit", "Ironwood", "Silverline", "Redstone",
    "Brightpath", "Oakridge", "Evergreen", "Clearwater", "Granite", "Pioneer", "Lakeside", "Westfield",
    "Crescent", "Keystone", "Highland", "Meridian", "Riverbend", "Starling", "Harborview", "Copperleaf",
    "Falcon", "Beacon", "Atlas", "Cobalt", "Juniper", "Sterling", "Vantage", "Orchard", "Tidewater",
    "Kingsbridge", "Larkspur", "Maple", "Nimbus", "Quarry", "Sequoia", "Trident", "Union", "Wexford",
)  # fmt: skip
EN_COMPANY_NOUNS = (
    "Logistics", "Systems", "Foods", "Manufacturing", "Health", "Energy", "Labs", "Retail", "Trading",
    "Partners", "Industries", "Software", "Textiles", "Motors", "Pharma", "Analytics", "Supply", "Media",
)  # fmt: skip
EN_COMPANY_SUFFIXES = ("Ltd", "Inc", "LLC", "GmbH", "Corp", "PLC", "Pte Ltd", "Co")

# (Chinese word, pinyin used in the web domain)
ZH_COMPANY_WORDS = (
    ("华信", "huaxin"), ("中科", "zhongke"), ("东方", "dongfang"), ("瑞丰", "ruifeng"), ("天成", "tiancheng"),
    ("金桥", "jinqiao"), ("海川", "haichuan"), ("宏达", "hongda"), ("新源", "xinyuan"), ("恒泰", "hengtai"),
    ("博远", "boyuan"), ("联创", "lianchuang"), ("嘉禾", "jiahe"), ("明德", "mingde"), ("长城", "changcheng"),
    ("盛世", "shengshi"), ("永安", "yongan"), ("兴业", "xingye"), ("鼎盛", "dingsheng"), ("安捷", "anjie"),
    ("汇通", "huitong"), ("云帆", "yunfan"), ("凯德", "kaide"), ("信达", "xinda"), ("卓越", "zhuoyue"),
)  # fmt: skip
ZH_COMPANY_TRADES = (
    ("科技", "tech"), ("贸易", "trading"), ("物流", "logistics"), ("制造", "mfg"), ("医药", "pharma"),
    ("电子", "electronics"), ("食品", "foods"), ("能源", "energy"), ("软件", "soft"), ("纺织", "textile"),
)  # fmt: skip
ZH_COMPANY_SUFFIX = "有限公司"


@dataclass(frozen=True)
class Place:
    city: str
    country: str  # ISO 3166-1 alpha-2
    currency: str
    phone_prefix: str  # country calling code without "+"
    area_code: str
    tld: str


PLACES_CN = (
    Place("上海", "CN", "CNY", "86", "21", "cn"),
    Place("北京", "CN", "CNY", "86", "10", "cn"),
    Place("深圳", "CN", "CNY", "86", "755", "cn"),
    Place("广州", "CN", "CNY", "86", "20", "cn"),
    Place("杭州", "CN", "CNY", "86", "571", "cn"),
    Place("成都", "CN", "CNY", "86", "28", "cn"),
)
PLACES_INTL = (
    Place("New York", "US", "USD", "1", "212", "com"),
    Place("Chicago", "US", "USD", "1", "312", "com"),
    Place("San Francisco", "US", "USD", "1", "415", "com"),
    Place("London", "GB", "GBP", "44", "20", "co.uk"),
    Place("Manchester", "GB", "GBP", "44", "161", "co.uk"),
    Place("Berlin", "DE", "EUR", "49", "30", "de"),
    Place("Munich", "DE", "EUR", "49", "89", "de"),
    Place("Paris", "FR", "EUR", "33", "1", "fr"),
    Place("Singapore", "SG", "SGD", "65", "6", "sg"),
    Place("Tokyo", "JP", "JPY", "81", "3", "jp"),
)

# (HubSpot industry enumeration value, ERP industry key BRSCH)
INDUSTRIES = (
    ("COMPUTER_SOFTWARE", "IT01"), ("LOGISTICS_AND_SUPPLY_CHAIN", "LG01"), ("FOOD_PRODUCTION", "FD01"),
    ("MACHINERY", "MA01"), ("HOSPITAL_HEALTH_CARE", "HC01"), ("RETAIL", "RT01"), ("TEXTILES", "TX01"),
    ("PHARMACEUTICALS", "PH01"), ("AUTOMOTIVE", "AU01"), ("ELECTRICAL_ELECTRONIC_MANUFACTURING", "EL01"),
    ("FINANCIAL_SERVICES", "FS01"), ("OIL_ENERGY", "EN01"),
)  # fmt: skip

JOB_TITLES = (
    "Purchasing Manager", "CFO", "Head of Operations", "IT Director", "Procurement Lead", "CEO",
    "Accounts Payable", "Office Manager", "Supply Chain Analyst", "Plant Manager", "采购经理", "财务总监",
)  # fmt: skip

# (material number, description, unit, list price in USD)
PRODUCTS = (
    ("MAT-100010", "Industrial sensor kit", "EA", 129.00),
    ("MAT-100020", "Conveyor belt 5m", "EA", 860.00),
    ("MAT-100030", "Hydraulic pump HP-2", "EA", 2150.00),
    ("MAT-100040", "Safety gloves (box of 100)", "BOX", 38.50),
    ("MAT-100050", "PLC controller unit", "EA", 1320.00),
    ("MAT-100060", "Stainless bolts M8 (1000)", "BOX", 74.90),
    ("MAT-100070", "Maintenance service hour", "H", 95.00),
    ("MAT-100080", "Packaging film roll", "ROL", 42.00),
    ("MAT-100090", "Barcode scanner BX-5", "EA", 310.00),
    ("MAT-100100", "Software licence (annual)", "EA", 4800.00),
    ("MAT-100110", "Spare parts set A", "SET", 560.00),
    ("MAT-100120", "Pallet racking bay", "EA", 1190.00),
)  # fmt: skip

# Rough value of one unit of each currency in USD, to keep prices plausible across currencies.
USD_PER_UNIT = {"USD": 1.0, "CNY": 0.14, "EUR": 1.08, "GBP": 1.27, "SGD": 0.74, "JPY": 0.0067}

TICKET_SUBJECTS = (
    "Invoice amount does not match the order", "Delivery arrived damaged", "Cannot log in to the portal",
    "Request for a copy of invoice", "Order shipped to the wrong address", "Product stopped working",
    "Question about payment terms", "Change of billing contact", "Missing items in delivery",
    "Request for a quote", "发票金额有误", "物流延迟", "产品质量问题", "需要技术支持",
)  # fmt: skip
COMMENT_BODIES = (
    "Thanks for reaching out, we are looking into it.", "Could you send us the order number?",
    "We have escalated this to our logistics team.", "The replacement has been shipped today.",
    "Please find the corrected invoice attached.", "Is there anything else we can help with?",
    "The issue is still happening on our side.", "Confirmed, this is resolved now. Thank you!",
    "已收到，我们会尽快处理。", "请提供订单号。", "问题已经解决，谢谢！",
)  # fmt: skip
ENGAGEMENT_TOPICS = (
    "Quarterly business review", "Pricing discussion", "Renewal planning", "Product demo",
    "Onboarding check-in", "Contract negotiation", "Support escalation follow-up", "Intro call",
)  # fmt: skip
