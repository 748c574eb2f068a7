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
# A brand is often two words ("Atlas Ridge"); the second of them from here.
EN_COMPANY_SECOND_WORDS = (
    "Ridge", "Bay", "Point", "Field", "Stone", "Brook", "Gate", "Peak", "Creek", "Crest", "Haven", "Park",
    "Mill", "Lane", "Rock", "Wood", "Vale", "Bridge", "Hill", "Port", "Star", "Line", "Grove", "Forge",
    "Springs", "Harbor", "Valley", "Cross", "Shore", "Meadow", "North", "West", "Square", "Works", "Arc",
)  # fmt: skip
# Invented brands ("Corvanta"), put together from syllables.
EN_BRAND_ONSETS = (
    "Al", "Bel", "Cor", "Dar", "El", "Fen", "Gal", "Hal", "Is", "Jor", "Kel", "Lum", "Mar", "Nor", "Or",
    "Pel", "Quin", "Ros", "Sol", "Tal", "Ul", "Ven", "Wil", "Xan", "Zel",
)  # fmt: skip
EN_BRAND_MIDDLES = (
    "a", "e", "i", "o", "u", "an", "en", "in", "on", "ar", "er", "or", "al", "el", "ov", "ir", "ex", "av",
)  # fmt: skip
EN_BRAND_ENDINGS = (
    "ta", "ra", "ix", "is", "on", "ia", "ex", "ara", "ent", "ios", "ant", "yn", "um", "o", "ica", "eon",
)  # fmt: skip
EN_COMPANY_NOUNS = (
    "Logistics", "Systems", "Foods", "Manufacturing", "Health", "Energy", "Labs", "Retail", "Trading",
    "Partners", "Industries", "Software", "Textiles", "Motors", "Pharma", "Analytics", "Supply", "Media",
    "Consulting", "Engineering", "Solutions", "Materials", "Electronics", "Chemicals", "Packaging", "Freight",
    "Medical", "Robotics", "Instruments", "Apparel",
)  # fmt: skip
EN_COMPANY_SUFFIXES = ("Ltd", "Inc", "LLC", "GmbH", "Corp", "PLC", "Pte Ltd", "Co")
# The legal form written out or punctuated ("Pte Ltd" before "Ltd": the longer form is tried first).
LEGAL_FORM_VARIANTS = (
    ("Pte Ltd", "Pte. Ltd."), ("Ltd", "Limited"), ("Inc", "Inc."), ("LLC", "L.L.C."), ("GmbH", "G.m.b.H."),
    ("Corp", "Corporation"), ("PLC", "plc"), ("Co", "Co."),
)  # fmt: skip

# A Chinese trade name (字号) is two characters drawn from these, with the pinyin used in the web domain.
ZH_TRADE_NAME_CHARACTERS = (
    ("华", "hua"), ("信", "xin"), ("中", "zhong"), ("科", "ke"), ("东", "dong"), ("方", "fang"), ("瑞", "rui"),
    ("丰", "feng"), ("天", "tian"), ("成", "cheng"), ("金", "jin"), ("桥", "qiao"), ("海", "hai"), ("川", "chuan"),
    ("宏", "hong"), ("达", "da"), ("新", "xin"), ("源", "yuan"), ("恒", "heng"), ("泰", "tai"), ("博", "bo"),
    ("远", "yuan"), ("联", "lian"), ("创", "chuang"), ("嘉", "jia"), ("禾", "he"), ("明", "ming"), ("德", "de"),
    ("长", "chang"), ("城", "cheng"), ("盛", "sheng"), ("世", "shi"), ("永", "yong"), ("安", "an"), ("兴", "xing"),
    ("业", "ye"), ("鼎", "ding"), ("捷", "jie"), ("汇", "hui"), ("通", "tong"), ("云", "yun"), ("帆", "fan"),
    ("凯", "kai"), ("卓", "zhuo"), ("越", "yue"), ("鑫", "xin"), ("隆", "long"), ("晨", "chen"), ("光", "guang"),
    ("佳", "jia"), ("和", "he"), ("润", "run"), ("启", "qi"), ("辰", "chen"), ("万", "wan"), ("邦", "bang"),
    ("思", "si"), ("腾", "teng"), ("飞", "fei"), ("星", "xing"), ("辉", "hui"), ("聚", "ju"), ("宝", "bao"),
    ("森", "sen"), ("昌", "chang"), ("富", "fu"), ("祥", "xiang"), ("立", "li"), ("益", "yi"), ("康", "kang"),
    ("正", "zheng"), ("弘", "hong"), ("振", "zhen"), ("广", "guang"), ("亿", "yi"), ("合", "he"), ("美", "mei"),
)  # fmt: skip
ZH_COMPANY_TRADES = (
    ("科技", "tech"), ("贸易", "trading"), ("物流", "logistics"), ("制造", "mfg"), ("医药", "pharma"),
    ("电子", "electronics"), ("食品", "foods"), ("能源", "energy"), ("软件", "soft"), ("纺织", "textile"),
    ("建材", "jiancai"), ("咨询", "consulting"), ("网络", "network"), ("环保", "enviro"), ("机械", "machinery"),
    ("化工", "chemical"), ("服饰", "apparel"), ("信息", "info"), ("材料", "materials"), ("包装", "packaging"),
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

ENGAGEMENT_TOPICS = (
    "Quarterly business review", "Pricing discussion", "Renewal planning", "Product demo",
    "Onboarding check-in", "Contract negotiation", "Support escalation follow-up", "Intro call",
)  # fmt: skip

# --- addresses ---------------------------------------------------------------------------------------------
# Street kinds as (full, abbreviation), commonest first (the generator favours the head of each list).
EN_STREET_KINDS = {
    "US": (("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Boulevard", "Blvd"), ("Drive", "Dr"),
           ("Lane", "Ln"), ("Place", "Pl"), ("Court", "Ct"), ("Parkway", "Pkwy"), ("Way", "Way"),
           ("Plaza", "Plz"), ("Highway", "Hwy"), ("Terrace", "Ter"), ("Circle", "Cir")),
    "GB": (("Road", "Rd"), ("Street", "St"), ("Lane", "Ln"), ("Avenue", "Ave"), ("Close", "Cl"),
           ("Crescent", "Cres"), ("Place", "Pl"), ("Gardens", "Gdns"), ("Square", "Sq"), ("Terrace", "Terr"),
           ("Way", "Way"), ("Row", "Row"), ("Grove", "Gr"), ("Park", "Pk"), ("Wharf", "Wharf")),
    "SG": (("Road", "Rd"), ("Street", "St"), ("Avenue", "Ave"), ("Drive", "Dr"), ("Crescent", "Cres"),
           ("Place", "Pl"), ("Boulevard", "Blvd"), ("Link", "Link"), ("Way", "Way"), ("Walk", "Walk"),
           ("Central", "Central"), ("Close", "Cl")),
}  # fmt: skip
EN_STREET_NAMES = {
    "US": ("Main", "Oak", "Maple", "Park", "Washington", "Lincoln", "Jackson", "Franklin", "Madison", "Lake",
           "Hill", "Elm", "Cedar", "Pine", "Walnut", "Cherry", "Willow", "Sunset", "River", "Spring", "Market",
           "Broad", "Water", "Church", "Mill", "Lexington", "Hudson", "Fulton", "Wacker", "Michigan", "LaSalle",
           "Mission", "Howard", "Folsom", "Montgomery", "Sansome", "Grand", "Harbor", "Commerce", "Industrial",
           "Lake Shore", "Mount Vernon", "Martin Luther King Jr", "Cherry Hill", "Old Mill"),
    "GB": ("High", "Station", "Church", "Victoria", "King", "Queen", "Albert", "Windsor", "York", "Cambridge",
           "Mill", "Bridge", "Green", "Market", "Chapel", "Park", "Meadow", "Orchard", "Canal", "Fleet",
           "Baker", "Oxford", "Regent", "Bishopsgate", "Liverpool", "Deansgate", "Portland", "Mosley",
           "Princess", "Kingsbridge", "Wexford", "Clearwater", "Greenwich", "Mount Pleasant", "St John's",
           "Old Kent", "Canary", "Whitechapel", "Shoreditch High", "London"),
    "SG": ("Anson", "Cecil", "Robinson", "Shenton", "Tanjong Pagar", "Bukit Timah", "Jurong West", "Changi",
           "Kallang", "Ubi", "Kaki Bukit", "Tai Seng", "Alexandra", "Orchard", "Scotts", "Serangoon",
           "Toa Payoh", "Woodlands", "Ang Mo Kio", "Pasir Panjang", "Science Park", "Raffles", "Beach",
           "Depot", "Loyang", "Tuas", "Kim Seng", "Havelock"),
}  # fmt: skip
US_DIRECTIONS = (("North", "N"), ("South", "S"), ("East", "E"), ("West", "W"))
# (full, abbreviation) of the unit part of a US address; Singapore writes "#12-01", the UK "Unit 4, ...".
US_UNITS = (("Suite", "Ste"), ("Floor", "Fl"), ("Suite", "#"))

# German streets: a stem joined to its kind ("Hauptstraße") or an adjective before it ("Leipziger Straße").
DE_STREET_STEMS = (
    "Haupt", "Bahnhof", "Schiller", "Goethe", "Garten", "Berg", "Kirch", "Linden", "Industrie", "Wald",
    "Schloss", "Markt", "Post", "Friedrich", "Mozart", "Beethoven", "Kaiser", "König", "Rosen", "Birken",
    "Sonnen", "Wiesen", "Mühlen", "Brunnen", "Feld", "Schul", "Tal", "Gewerbe", "Hafen", "Müller",
)  # fmt: skip
DE_STREET_ADJECTIVES = (
    "Leipziger", "Frankfurter", "Münchner", "Hamburger", "Berliner", "Potsdamer", "Kölner", "Dresdner",
    "Nürnberger", "Augsburger", "Landsberger", "Rosenheimer",
)  # fmt: skip
DE_STREET_KINDS = (
    ("straße", "str."), ("weg", "weg"), ("allee", "allee"), ("platz", "pl."), ("ring", "ring"),
    ("damm", "damm"), ("ufer", "ufer"), ("gasse", "gasse"),
)  # fmt: skip
FR_STREET_KINDS = (
    ("rue", "rue"), ("avenue", "av."), ("boulevard", "bd"), ("place", "pl."), ("quai", "quai"),
    ("allée", "all."), ("impasse", "imp."), ("chemin", "ch."), ("cours", "crs"),
)  # fmt: skip
FR_STREET_NAMES = (
    "de la Paix", "Victor Hugo", "Jean Jaurès", "de la République", "Pasteur", "du Général de Gaulle",
    "Voltaire", "des Lilas", "de la Gare", "Saint-Honoré", "Gambetta", "de Rivoli", "Haussmann", "des Écoles",
    "du Moulin", "de l'Église", "La Fayette", "de Provence", "Montmartre", "d'Alésia", "de Vaugirard",
    "Émile Zola", "du Faubourg Saint-Antoine", "de Grenelle", "Daumesnil", "de Flandre", "Réaumur",
)  # fmt: skip
# Tokyo: (area in kanji, area in romaji, ward in kanji, ward in romaji, first three postcode digits)
JP_AREAS = (
    ("丸の内", "Marunouchi", "千代田区", "Chiyoda", "100"), ("大手町", "Otemachi", "千代田区", "Chiyoda", "100"),
    ("西新宿", "Nishi-Shinjuku", "新宿区", "Shinjuku", "160"), ("渋谷", "Shibuya", "渋谷区", "Shibuya", "150"),
    ("六本木", "Roppongi", "港区", "Minato", "106"), ("赤坂", "Akasaka", "港区", "Minato", "107"),
    ("銀座", "Ginza", "中央区", "Chuo", "104"), ("日本橋", "Nihonbashi", "中央区", "Chuo", "103"),
    ("豊洲", "Toyosu", "江東区", "Koto", "135"), ("上野", "Ueno", "台東区", "Taito", "110"),
    ("恵比寿", "Ebisu", "渋谷区", "Shibuya", "150"), ("品川", "Shinagawa", "港区", "Minato", "108"),
)  # fmt: skip
# Chinese streets: (hanzi, pinyin); kinds: (hanzi, English, English abbreviation)
CN_STREET_NAMES = (
    ("张江", "Zhangjiang"), ("人民", "Renmin"), ("中山", "Zhongshan"), ("解放", "Jiefang"), ("建设", "Jianshe"),
    ("和平", "Heping"), ("长江", "Changjiang"), ("黄河", "Huanghe"), ("科技", "Keji"), ("创业", "Chuangye"),
    ("世纪", "Shiji"), ("南京", "Nanjing"), ("淮海", "Huaihai"), ("延安", "Yan'an"), ("东风", "Dongfeng"),
    ("新华", "Xinhua"), ("文化", "Wenhua"), ("光明", "Guangming"), ("复兴", "Fuxing"), ("滨河", "Binhe"),
    ("高新", "Gaoxin"), ("学院", "Xueyuan"), ("金融", "Jinrong"), ("天府", "Tianfu"), ("深南", "Shennan"),
    ("科苑", "Keyuan"), ("文三", "Wensan"), ("体育", "Tiyu"), ("珠江", "Zhujiang"), ("银湖", "Yinhu"),
)  # fmt: skip
CN_STREET_KINDS = (
    ("路", "Road", "Rd"), ("大道", "Avenue", "Ave"), ("街", "Street", "St"), ("东路", "East Road", "E. Rd"),
    ("西路", "West Road", "W. Rd"), ("中路", "Middle Road", "Middle Rd"), ("南路", "South Road", "S. Rd"),
    ("北路", "North Road", "N. Rd"), ("大街", "Street", "St"),
)  # fmt: skip
# City -> districts as (hanzi, English name, English kind)
CN_DISTRICTS = {
    "上海": (("浦东新区", "Pudong", "New Area"), ("徐汇区", "Xuhui", "District"), ("静安区", "Jing'an", "District"),
           ("闵行区", "Minhang", "District"), ("长宁区", "Changning", "District")),
    "北京": (("海淀区", "Haidian", "District"), ("朝阳区", "Chaoyang", "District"), ("东城区", "Dongcheng", "District"),
           ("西城区", "Xicheng", "District"), ("丰台区", "Fengtai", "District")),
    "深圳": (("南山区", "Nanshan", "District"), ("福田区", "Futian", "District"), ("宝安区", "Bao'an", "District"),
           ("龙岗区", "Longgang", "District"), ("罗湖区", "Luohu", "District")),
    "广州": (("天河区", "Tianhe", "District"), ("越秀区", "Yuexiu", "District"), ("海珠区", "Haizhu", "District"),
           ("番禺区", "Panyu", "District"), ("白云区", "Baiyun", "District")),
    "杭州": (("西湖区", "Xihu", "District"), ("滨江区", "Binjiang", "District"), ("余杭区", "Yuhang", "District"),
           ("拱墅区", "Gongshu", "District"), ("上城区", "Shangcheng", "District")),
    "成都": (("武侯区", "Wuhou", "District"), ("锦江区", "Jinjiang", "District"), ("青羊区", "Qingyang", "District"),
           ("高新区", "Gaoxin", "Hi-tech Zone"), ("成华区", "Chenghua", "District")),
}  # fmt: skip
# City -> (the name in another script, other names people write for it)
CITY_FORMS = {
    "上海": ("Shanghai", ("上海市",)), "北京": ("Beijing", ("北京市",)), "深圳": ("Shenzhen", ("深圳市",)),
    "广州": ("Guangzhou", ("广州市",)), "杭州": ("Hangzhou", ("杭州市",)), "成都": ("Chengdu", ("成都市",)),
    "New York": ("", ("New York City", "NYC", "New York, NY")), "Chicago": ("", ("Chicago, IL",)),
    "San Francisco": ("", ("SF", "San Francisco, CA")), "London": ("", ("City of London", "Greater London")),
    "Manchester": ("", ("Greater Manchester",)), "Berlin": ("", ("Berlin-Mitte",)),
    "Munich": ("", ("München", "Muenchen")), "Paris": ("", ("Paris Cedex",)),
    "Singapore": ("", ("Singapore City",)), "Tokyo": ("東京都", ("Tokyo-to",)),
}  # fmt: skip
# City -> leading postcode digits (the rest is drawn); London and Manchester use outward codes instead.
POSTCODE_PREFIXES = {
    "上海": ("200", "201"), "北京": ("100",), "深圳": ("518",), "广州": ("510",), "杭州": ("310",), "成都": ("610",),
    "New York": ("100", "101", "102"), "Chicago": ("606",), "San Francisco": ("941",),
    "Berlin": ("10", "12", "13"), "Munich": ("80", "81"), "Paris": ("750",), "Singapore": ("0", "1", "2", "3", "4"),
}  # fmt: skip
GB_OUTWARD_CODES = {
    "London": ("EC1A", "EC2A", "EC3M", "EC4M", "WC1E", "WC2N", "SW1A", "SE1", "E14", "N1", "W1D", "NW1"),
    "Manchester": ("M1", "M2", "M3", "M4", "M15", "M50"),
}

# --- people ------------------------------------------------------------------------------------------------
# How a company builds its people's e-mail addresses (one convention per company).
EMAIL_PATTERNS = ("{first}.{last}", "{f}{last}", "{first}{last}", "{first}_{last}", "{last}.{first}", "{first}")
FREE_MAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "gmx.de", "orange.fr")
CN_FREE_MAIL_DOMAINS = ("163.com", "qq.com", "126.com", "sina.com")
# Job title -> (ERP department key ABTNR, ERP function text PAFKT); departments 0002 purchasing, 0007 finance
# are the ones an ERP keeps contact persons for.
ERP_FUNCTIONS = {
    "Purchasing Manager": ("0002", "Purchasing manager"), "CFO": ("0007", "Finance director"),
    "Head of Operations": ("0004", "Operations"), "IT Director": ("0009", "IT"),
    "Procurement Lead": ("0002", "Buyer"), "CEO": ("0001", "Managing director"),
    "Accounts Payable": ("0007", "Accounts payable"), "Office Manager": ("0006", "Office"),
    "Supply Chain Analyst": ("0002", "Supply chain"), "Plant Manager": ("0004", "Plant manager"),
    "采购经理": ("0002", "采购"), "财务总监": ("0007", "财务"),
}  # fmt: skip
ERP_CONTACT_DEPARTMENTS = ("0002", "0007")
