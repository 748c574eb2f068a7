"""The parts a customer's support request is written from, in English and Chinese, with their labels.

A request is composed of parts (greeting, context, the problem, an impact or urgency cue, a request, a
sign-off), each drawn from several phrasings, so that no class has one template a model could learn by
heart. Slots: {order} {invoice} {product} {amount} {qty} {date} {days}.

The labels: a category (what the request is about) with a topic tag under it, and a severity that the
text's impact and urgency cues carry.
"""

# Chinese characters count double towards the line length: the phrase lists are kept one class a line.
# ruff: noqa: E501

from __future__ import annotations

SEVERITIES = ("low", "normal", "high", "urgent")
CATEGORIES = ("billing", "delivery", "technical", "account", "inquiry", "complaint")

# category -> topic tags under it (every ticket carries exactly one topic tag)
TOPICS = {
    "billing": ("invoice_error", "payment", "refund"),
    "delivery": ("late_delivery", "damaged_goods", "wrong_items", "wrong_address"),
    "technical": ("defect", "software_bug", "integration"),
    "account": ("login", "user_access", "contact_change"),
    "inquiry": ("quote", "product_info", "documentation"),
    "complaint": ("service_quality", "product_quality", "escalation"),
}
CALLBACK_TAG = "callback"  # the requester asks to be called back (any category)

# category -> P(low, normal, high, urgent): inquiries are rarely urgent, complaints rarely low
SEVERITY_MIX = {
    "billing": (0.2, 0.5, 0.22, 0.08),
    "delivery": (0.1, 0.4, 0.35, 0.15),
    "technical": (0.1, 0.35, 0.3, 0.25),
    "account": (0.2, 0.45, 0.25, 0.1),
    "inquiry": (0.45, 0.45, 0.08, 0.02),
    "complaint": (0.05, 0.25, 0.45, 0.25),
}
CATEGORY_MIX = {"billing": 18, "delivery": 20, "technical": 24, "account": 12, "inquiry": 15, "complaint": 11}

EN_PRODUCTS = (
    "industrial sensor kit", "conveyor belt", "hydraulic pump HP-2", "safety gloves", "PLC controller",
    "stainless bolts M8", "packaging film", "barcode scanner BX-5", "software licence", "spare parts set",
    "pallet racking", "maintenance service",
)  # fmt: skip
ZH_PRODUCTS = (
    "工业传感器套件", "输送带", "液压泵HP-2", "防护手套", "PLC控制器", "不锈钢螺栓M8", "包装膜", "条码扫描器BX-5",
    "软件许可证", "备件套装", "货架", "维保服务",
)  # fmt: skip

GREETINGS = {
    "en": ("Hello,", "Hi,", "Hi team,", "Dear Support,", "Good morning,", "Dear Sir or Madam,", "Hello support team,",
           "Hey,", ""),
    "zh": ("您好，", "你好，", "客服您好！", "尊敬的客服：", "你好", "在吗？", "您好！", ""),
}  # fmt: skip
SIGNOFFS = {
    "en": ("Thanks,", "Best regards,", "Kind regards,", "Thank you.", "Regards,", "Cheers,", "Thanks in advance.", ""),
    "zh": ("谢谢！", "谢谢。", "麻烦了。", "辛苦了！", "多谢。", "此致", ""),
}  # fmt: skip
# Sentences that set the scene and say nothing of the class (some name things other classes talk about).
CONTEXT = {
    "en": ("We ordered {qty} units of {product} on {date}.", "Our company has been your customer for years.",
           "I am writing on behalf of our purchasing department.", "This is about order {order}.",
           "Our account manager told me to write to this address.", "We received invoice {invoice} last week.",
           "I tried calling your hotline but nobody answered.", "The shipment came in on {date}."),
    "zh": ("我们在{date}订购了{qty}件{product}。", "我们是贵公司的老客户了。", "我是采购部的，代表公司联系你们。",
           "关于订单{order}。", "客户经理让我发邮件到这个地址。", "上周收到了发票{invoice}。", "打了热线电话没人接。",
           "货是{date}到的。"),
}  # fmt: skip

# topic -> subjects; a generic subject (below) is used instead some of the time
SUBJECTS = {
    "en": {
        "invoice_error": ("Invoice amount does not match the order", "Wrong invoice {invoice}",
                          "Billed twice for order {order}", "Incorrect VAT on invoice"),
        "payment": ("Payment not recorded", "Question about payment terms", "Payment reminder received in error"),
        "refund": ("Refund not received", "Where is my refund?", "Credit note for order {order}"),
        "late_delivery": ("Delivery is late", "Order {order} not delivered yet", "Shipment delayed"),
        "damaged_goods": ("Delivery arrived damaged", "Damaged goods received", "Broken {product} on arrival"),
        "wrong_items": ("Missing items in delivery", "Wrong items shipped", "Incomplete delivery for {order}"),
        "wrong_address": ("Order shipped to the wrong address", "Delivery address wrong", "Change delivery address"),
        "defect": ("Product stopped working", "{product} faulty", "Device fails after a few days"),
        "software_bug": ("Error message in the software", "App crashes on export", "Bug in the report module"),
        "integration": ("API integration failing", "EDI orders not coming through", "Webhook errors since update"),
        "login": ("Cannot log in to the portal", "Password reset not working", "Account locked"),
        "user_access": ("Add a new user to our account", "Remove access for former employee", "Permissions issue"),
        "contact_change": ("Change of billing contact", "Update our company address", "New contact person"),
        "quote": ("Request for a quote", "Price for {qty} {product}", "Quotation needed"),
        "product_info": ("Question about {product}", "Is {product} compatible?", "Product specifications"),
        "documentation": ("Need the user manual", "Certificate of conformity request", "Datasheet for {product}"),
        "service_quality": ("Very disappointed with your service", "Nobody answers my emails", "Unacceptable support"),
        "product_quality": ("Poor quality of {product}", "Quality keeps getting worse", "Complaint about quality"),
        "escalation": ("Escalation: issue still unresolved", "Third time asking", "I want to speak to a manager"),
    },
    "zh": {
        "invoice_error": ("发票金额有误", "发票{invoice}开错了", "订单{order}重复扣款", "发票税额不对"),
        "payment": ("付款未到账", "关于付款条件", "已付款却收到催款"),
        "refund": ("退款还没收到", "退款进度查询", "订单{order}的退款"),
        "late_delivery": ("物流延迟", "订单{order}还没发货", "到货时间一拖再拖"),
        "damaged_goods": ("收到的货物破损", "包装破损", "{product}到货损坏"),
        "wrong_items": ("少发了货", "发错货了", "订单{order}缺件"),
        "wrong_address": ("收货地址错了", "货发到错误地址", "修改收货地址"),
        "defect": ("产品质量问题", "{product}坏了", "设备用几天就故障"),
        "software_bug": ("软件报错", "系统导出时崩溃", "报表模块有bug"),
        "integration": ("接口对接失败", "EDI订单收不到", "更新后接口报错"),
        "login": ("无法登录系统", "重置密码没反应", "账号被锁定"),
        "user_access": ("新增账号", "删除离职员工权限", "权限问题"),
        "contact_change": ("更换财务联系人", "更新公司地址", "联系人变更"),
        "quote": ("询价", "{product}报价", "请报个价"),
        "product_info": ("咨询{product}", "{product}是否兼容", "产品参数咨询"),
        "documentation": ("需要说明书", "索取合格证", "{product}技术资料"),
        "service_quality": ("对服务非常不满意", "邮件一直没人回", "客服态度太差"),
        "product_quality": ("{product}质量太差", "质量越来越差", "质量投诉"),
        "escalation": ("问题一直没解决", "第三次反映了", "要求主管处理"),
    },
}  # fmt: skip
GENERIC_SUBJECTS = {
    "en": ("Help", "Question", "Order {order}", "Re: order {order}", "Problem", "Support request", "Re: your email",
           "Fwd: {order}", "Issue", "Request"),
    "zh": ("问题反馈", "咨询", "关于订单{order}", "Re: 订单{order}", "求助", "售后", "请处理", "急"),
}  # fmt: skip

# topic -> how the requester puts the problem (the sentence that carries the category)
PROBLEMS = {
    "en": {
        "invoice_error": ("Invoice {invoice} shows {amount} but the order confirmation said less.",
                          "We were charged twice for order {order}.", "The unit price on the invoice is wrong.",
                          "The VAT on invoice {invoice} is calculated incorrectly.",
                          "Your invoice lists {qty} units, we only ordered half of that."),
        "payment": ("We paid {amount} on {date} but it still shows as open.",
                    "We received a payment reminder although the invoice was paid.",
                    "Can we change our payment terms to 60 days?", "Our bank transfer bounced back, please check "
                    "your account details."),
        "refund": ("We returned the goods weeks ago and still have no refund.",
                   "You promised a credit note of {amount} which never arrived.",
                   "The refund for order {order} has not reached our account."),
        "late_delivery": ("Order {order} was due on {date} and has still not arrived.",
                          "The tracking has not moved for {days} days.", "Our delivery is {days} days late.",
                          "The goods were promised for last week and we have heard nothing."),
        "damaged_goods": ("The {product} arrived with a cracked housing.", "Half of the boxes were crushed in transit.",
                          "The pallet was wet and the {product} is damaged.",
                          "Several pieces arrived broken, photos attached."),
        "wrong_items": ("We received {qty} pieces instead of the {qty} ordered.",
                        "The package contained the wrong {product}.", "Two items are missing from order {order}.",
                        "The delivery note does not match what was in the box."),
        "wrong_address": ("The order went to our old warehouse address.",
                          "Your courier delivered to the wrong building.",
                          "Please change the delivery address for order {order} before it ships."),
        "defect": ("The {product} stopped working after {days} days.", "The {product} shows a fault light and "
                   "will not start.", "The {product} makes a loud noise and then shuts down.",
                   "The {product} keeps overheating."),
        "software_bug": ("The software shows an error 500 when we export reports.",
                         "The app crashes every time we open the dashboard.",
                         "After the last update the report module gives wrong totals.",
                         "Saving a record throws an exception."),
        "integration": ("Our EDI orders are not being received by your system.",
                        "The API returns 401 although the key is valid.",
                        "Webhooks to our ERP fail with a timeout since yesterday.",
                        "The sync between your platform and our ERP stopped."),
        "login": ("I cannot log in to the customer portal, it says invalid password.",
                  "The password reset email never arrives.", "My account got locked after three attempts.",
                  "Two-factor codes are rejected when I sign in."),
        "user_access": ("Please add a new user for our accountant.",
                        "A colleague left the company, please remove her access.",
                        "I need admin rights to approve orders.", "Our new buyer cannot see our order history."),
        "contact_change": ("Please update our billing contact to our new finance manager.",
                           "We moved, please change our company address in your records.",
                           "Our contact person has changed, details below."),
        "quote": ("Could you send us a quote for {qty} units of {product}?",
                  "What would be your best price for {qty} pieces?", "We are planning a larger order and need "
                  "pricing.", "Please quote {product} including delivery."),
        "product_info": ("Is the {product} compatible with our current setup?",
                         "What is the lead time for {product}?", "Does the {product} come with a warranty?",
                         "Can you tell me the dimensions of the {product}?"),
        "documentation": ("Could you send the user manual for the {product}?",
                          "We need the certificate of conformity for our audit.",
                          "Where can I download the datasheet for {product}?"),
        "service_quality": ("Nobody has answered my emails for {days} days.",
                            "Your support staff was rude on the phone.",
                            "I have been passed from one department to another.",
                            "The service we get is simply not acceptable."),
        "product_quality": ("This is the third {product} that failed this year, the quality is poor.",
                            "The quality of your {product} has gone down a lot.",
                            "We are very unhappy with the quality of the last shipments."),
        "escalation": ("I reported this problem {days} days ago and it is still not solved.",
                       "This is the third time I am writing about the same issue.",
                       "I want this escalated to a manager now.", "Your team keeps promising a fix and nothing "
                       "happens."),
    },
    "zh": {
        "invoice_error": ("发票{invoice}金额是{amount}，比订单确认的多。", "订单{order}被重复扣款了。", "发票上的单价不对。",
                          "发票{invoice}的税额算错了。", "发票上写的是{qty}件，我们只订了一半。"),
        "payment": ("我们{date}已经付了{amount}，系统里还显示未付。", "发票已经付了，还收到催款通知。",
                    "付款期限能不能改成60天？", "银行转账被退回了，请核对收款账户。"),
        "refund": ("货几周前就退了，退款还没到。", "说好的{amount}红字发票一直没收到。", "订单{order}的退款还没到账。"),
        "late_delivery": ("订单{order}原定{date}到货，现在还没到。", "物流信息{days}天没更新了。", "已经晚了{days}天还没到货。",
                          "说好上周发货，到现在没有任何消息。"),
        "damaged_goods": ("{product}外壳有裂缝。", "一半的箱子运输中被压坏了。", "托盘进水，{product}受损。", "好几件到货就是坏的，附照片。"),
        "wrong_items": ("订了{qty}件只收到一部分。", "箱子里是错的{product}。", "订单{order}少了两样东西。", "送货单和实际货物对不上。"),
        "wrong_address": ("货送到了我们以前的仓库地址。", "快递送错楼了。", "订单{order}发货前请改一下收货地址。"),
        "defect": ("{product}用了{days}天就坏了。", "{product}亮故障灯，开不了机。", "{product}有很大噪音然后自动关机。",
                   "{product}一直过热。"),
        "software_bug": ("导出报表时软件报错500。", "每次打开仪表盘程序就闪退。", "更新后报表模块合计数不对。", "保存记录时报异常。"),
        "integration": ("你们系统收不到我们的EDI订单。", "密钥是对的，接口却返回401。", "从昨天开始推送到我们ERP的webhook超时。",
                        "你们平台和我们ERP的同步停了。"),
        "login": ("客户门户登录不了，提示密码错误。", "重置密码的邮件一直收不到。", "输错三次账号就被锁了。", "登录时验证码一直不通过。"),
        "user_access": ("请给我们的会计开一个新账号。", "有同事离职了，请删除她的权限。", "我需要管理员权限来审批订单。",
                        "新来的采购看不到历史订单。"),
        "contact_change": ("请把财务联系人改成我们新的财务经理。", "我们搬家了，请更新公司地址。", "联系人换了，信息如下。"),
        "quote": ("请给{qty}件{product}报个价。", "{qty}件的话最低什么价？", "我们计划下大单，需要报价。", "请报{product}含运费的价格。"),
        "product_info": ("{product}和我们现在的设备兼容吗？", "{product}交期多久？", "{product}有质保吗？", "能告诉我{product}的尺寸吗？"),
        "documentation": ("能发一下{product}的说明书吗？", "审核需要产品合格证。", "{product}的技术参数表在哪里下载？"),
        "service_quality": ("邮件发了{days}天没人回。", "电话里客服态度很差。", "被各个部门推来推去。", "这种服务实在不能接受。"),
        "product_quality": ("今年第三台{product}坏了，质量太差。", "你们的{product}质量下降很多。", "最近几批货的质量我们很不满意。"),
        "escalation": ("{days}天前就反映了，到现在还没解决。", "同一个问题这是第三次找你们了。", "要求马上升级给主管处理。",
                       "一直说会修复，结果什么都没有。"),
    },
}  # fmt: skip

# severity -> impact and urgency cues (a ticket carries one or two, or none now and then)
CUES = {
    "en": {
        "low": ("No rush, whenever you have time.", "Just for your information.", "This is not urgent.",
                "Low priority, but it would be nice to have it sorted.", "Any time next week is fine.",
                "It is a minor thing."),
        "normal": ("Please look into it.", "Could you check this when you can?", "Please get back to me this week.",
                   "We would appreciate a reply.", "Let me know what you need from us."),
        "high": ("This is blocking our team.", "We need this fixed today.", "Several of our customers are affected.",
                 "Please treat this with priority.", "This is holding up our month-end closing.",
                 "We need an answer by tomorrow at the latest."),
        "urgent": ("Our production line is down!", "This is URGENT, all our users are affected.",
                   "We cannot ship anything until this is fixed.", "Please call me immediately.",
                   "We are losing money every hour this continues.", "Critical: our whole site is standing still."),
    },
    "zh": {
        "low": ("不着急，有空处理就行。", "只是跟你们说一下。", "不是很急。", "优先级不高，方便时处理。", "下周处理也可以。", "小问题。"),
        "normal": ("麻烦看一下。", "请帮忙核实。", "请本周内回复。", "期待回复。", "需要我们提供什么请告诉我。"),
        "high": ("这影响了我们团队的工作。", "今天必须解决。", "我们好几个客户都受影响了。", "请优先处理。", "影响我们月底结账。",
                 "最晚明天给答复。"),
        "urgent": ("生产线停了！", "紧急！所有用户都用不了。", "不解决我们没法发货。", "请马上给我打电话。", "每拖一小时都在损失。",
                   "十万火急，整个工厂停工了。"),
    },
}  # fmt: skip
# A second, lesser matter mentioned after the main one (the label is the main one's): a mixed signal.
ALSO = {
    "en": ("Also, ", "Another thing: ", "By the way, ", "Separately, ", "And "),
    "zh": ("另外，", "还有，", "顺便说一下，", "再就是"),
}
URGENT_PREFIXES = {
    "en": ("URGENT: ", "URGENT - ", "!!! ", "[Critical] ", "ASAP: "),
    "zh": ("紧急：", "【紧急】", "急！", "加急："),
}
CALLBACK = {
    "en": ("Please call me back at {phone}.", "A phone call would be easiest: {phone}.", "Call me on {phone}."),
    "zh": ("请回电{phone}。", "方便的话打我电话{phone}。", "电话联系我：{phone}。"),
}  # fmt: skip

# The follow-up comments on a ticket: the agent's and the requester's, in the requester's language.
COMMENTS = {
    "en": ("Thanks for reaching out, we are looking into it.", "Could you send us the order number?",
           "We have escalated this to the responsible team.", "The replacement has been shipped today.",
           "Please find the corrected document attached.", "Is there anything else we can help with?",
           "The issue is still happening on our side.", "Confirmed, this is resolved now. Thank you!"),
    "zh": ("已收到，我们会尽快处理。", "请提供订单号。", "已转给负责的同事处理。", "补发的货今天已经寄出。", "更正后的文件见附件。",
           "还有其他可以帮您的吗？", "我们这边问题还在。", "问题已经解决，谢谢！"),
}  # fmt: skip
